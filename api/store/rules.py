"""Rules that look beyond one field: names, parents, cycles, limits, and the warnings.

Owns the checks a write must pass against the rest of the tree (a name used once across
departments and projects, a parent that exists, no department cycle, `limit_gpus` at least
`deserved_gpus`, at most MAX_DEPTH levels of departments) and the two advisory warnings
(children deserving more than their department; the top level deserving more than the
cluster's reported capacity). It must not write rows or audit entries.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.db.models import DepartmentRow, ProjectRow
from api.errors import ApiError, Issue, invalid
from api.store.common import reported_capacity_milli
from fairshare.resources import format_gpus


def ensure_name_free(session: Session, name: str) -> None:
    if session.get(ProjectRow, name) is not None:
        raise ApiError(409, f"the name {name!r} is taken by a project", field="name")
    if session.get(DepartmentRow, name) is not None:
        raise ApiError(409, f"the name {name!r} is taken by a department", field="name")


def ensure_department(session: Session, name: str | None, field: str) -> None:
    if name is not None and session.get(DepartmentRow, name) is None:
        raise invalid(field, f"department {name!r} does not exist")


def check_limit(deserved_milli: int, limit_milli: int | None) -> None:
    if limit_milli is not None and limit_milli < deserved_milli:
        raise invalid(
            "limit_gpus",
            f"must be at least deserved_gpus ({format_gpus(deserved_milli)}), "
            f"got {format_gpus(limit_milli)}",
        )


def check_no_cycle(session: Session, name: str, parent: str | None) -> None:
    """Moving department `name` under `parent` must not make it its own ancestor."""
    path = [name]
    current = parent
    while current is not None:
        path.append(current)
        if current == name:
            raise invalid("parent", f"would make a department cycle: {' -> '.join(path)}")
        row = session.get(DepartmentRow, current)
        current = None if row is None else row.parent


MAX_DEPTH = 16  # department levels; Run:ai itself has one. Deeper is a script gone wrong.


def parents_of(session: Session) -> dict[str, str | None]:
    rows = session.execute(select(DepartmentRow.name, DepartmentRow.parent)).all()
    return dict(rows)


def depth_of(parents: dict[str, str | None], name: str | None) -> int:
    """Levels from the top down to department `name` (0 for None: the root)."""
    depth = 0
    while name is not None and depth <= len(parents):
        depth, name = depth + 1, parents.get(name)
    return depth


def subtree(parents: dict[str, str | None], top: str) -> list[tuple[str, int]]:
    """`top` and every department under it with its level below `top`, parents first."""
    children: dict[str | None, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out, frontier = [(top, 0)], [(top, 0)]
    while frontier:
        frontier = [(c, level + 1) for n, level in frontier for c in sorted(children.get(n, []))]
        out += frontier
    return out


def check_depth(session: Session, name: str, parent: str | None) -> None:
    """Department `name` (with everything under it) placed under `parent` stays within
    MAX_DEPTH levels: deeper trees only come from a runaway script, and cost every walk."""
    parents = parents_of(session)
    below = max((level for _, level in subtree(parents, name)), default=0)
    depth = depth_of(parents, parent) + 1 + below
    if depth > MAX_DEPTH:
        raise invalid(
            "parent",
            f"would make the department tree {depth} levels deep; at most {MAX_DEPTH} are "
            "allowed",
        )


def department_overcommit(session: Session, department: str | None) -> Issue | None:
    """Warn when a department's children deserve more than the department itself."""
    if department is None:
        return None
    row = session.get(DepartmentRow, department)
    if row is None:
        return None
    children = _deserved_sum(session, ProjectRow.department == department, ProjectRow)
    children += _deserved_sum(session, DepartmentRow.parent == department, DepartmentRow)
    if children <= row.deserved_milli:
        return None
    return Issue(
        field="deserved_gpus",
        reason=(
            f"the children of department {department!r} deserve {format_gpus(children)} GPUs "
            f"together, more than its {format_gpus(row.deserved_milli)}; accepted, and the "
            "division will scale their guarantees down"
        ),
    )


def capacity_overcommit(session: Session) -> Issue | None:
    """Warn when the top level deserves more than the cluster has (once it is known)."""
    capacity = reported_capacity_milli(session)
    if capacity is None:
        return None
    total = _deserved_sum(session, ProjectRow.department.is_(None), ProjectRow)
    total += _deserved_sum(session, DepartmentRow.parent.is_(None), DepartmentRow)
    if total <= capacity:
        return None
    return Issue(
        field="deserved_gpus",
        reason=(
            f"top-level quotas deserve {format_gpus(total)} GPUs together, more than the "
            f"cluster's {format_gpus(capacity)} GPUs as the scheduler last reported; "
            "accepted, but not every guarantee can be met at once"
        ),
    )


def _deserved_sum(
    session: Session, where: ColumnElement[bool], table: type[ProjectRow] | type[DepartmentRow]
) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(table.deserved_milli), 0)).where(where)
    ).scalar_one()
    return int(total)
