"""Departments: create, read, list, update and delete (optionally cascading), atomically.

Owns the department operations the routes call, with the same write protocol as projects
(generation lock, If-Match, tree rules, one audit entry per changed object, generation
bump) plus what only departments have: parents, cycles, and refusing to delete a
department that still has children unless asked to cascade. It must not parse requests.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.engine import Database
from api.db.models import DepartmentRow, ProjectRow
from api.errors import ApiError, Issue, not_found, require_label
from api.schemas import (
    DepartmentCreate,
    DepartmentOut,
    DepartmentPage,
    DepartmentPatch,
    DepartmentWritten,
)
from api.store import rules, scope
from api.store.common import WriteContext, begin_write, check_if_match
from api.store.render import department_out, department_snapshot, project_snapshot

KIND = "department"
_COLUMNS = {
    "parent": "parent",
    "deserved_gpus": "deserved_milli",
    "over_quota_weight": "over_quota_weight_milli",
    "limit_gpus": "limit_milli",
    "priority": "priority",
}


def get(db: Database, name: str) -> DepartmentOut:
    require_label(KIND, name)
    with db.read() as session:
        row = session.get(DepartmentRow, name)
        if row is None:
            raise not_found(KIND, name)
        return department_out(row)


def page(db: Database, *, limit: int, offset: int, parent: str | None = None) -> DepartmentPage:
    with db.read() as session:
        query = select(DepartmentRow)
        count = select(func.count()).select_from(DepartmentRow)
        if parent is not None:
            query = query.where(DepartmentRow.parent == parent)
            count = count.where(DepartmentRow.parent == parent)
        rows = session.scalars(query.order_by(DepartmentRow.name).limit(limit).offset(offset))
        items = [department_out(r) for r in rows]
        total = session.execute(count).scalar_one()
        return DepartmentPage(items=items, total=total, limit=limit, offset=offset)


def create(db: Database, body: DepartmentCreate, who: Principal) -> DepartmentWritten:
    with db.write() as session:
        ctx = begin_write(session, who)
        scope.authorize(ctx, "create", KIND, body.name, body.parent)
        rules.ensure_name_free(session, body.name)
        rules.ensure_department(session, body.parent, "parent")
        rules.check_depth(session, body.name, body.parent)
        rules.check_limit(body.deserved_gpus, body.limit_gpus)
        values = {column: getattr(body, field) for field, column in _COLUMNS.items()}
        row = DepartmentRow(
            name=body.name, revision=ctx.generation, created_at=ctx.at, updated_at=ctx.at,
            **values,
        )
        session.add(row)
        session.flush()
        ctx.audit(KIND, row.name, "create", None, department_snapshot(row))
        return _finish(ctx, row)


def update(
    db: Database, name: str, body: DepartmentPatch, who: Principal, if_match: str | None
) -> DepartmentWritten:
    require_label(KIND, name)
    with db.write() as session:
        ctx = begin_write(session, who)
        row = session.get(DepartmentRow, name)
        if row is None:
            raise not_found(KIND, name)
        check_if_match(if_match, row.revision, KIND, name)
        changes = _changes(row, body)
        scope.authorize(ctx, "update", KIND, name, row.parent, changes.get("parent", row.parent))
        if "parent" in changes:
            rules.ensure_department(session, changes["parent"], "parent")
            rules.check_no_cycle(session, name, changes["parent"])
            rules.check_depth(session, name, changes["parent"])
        rules.check_limit(
            changes.get("deserved_milli", row.deserved_milli),
            changes.get("limit_milli", row.limit_milli),
        )
        if changes:
            before = department_snapshot(row)
            for column, value in changes.items():
                setattr(row, column, value)
            row.revision = ctx.generation
            row.updated_at = ctx.at
            session.flush()
            ctx.audit(KIND, name, "update", before, department_snapshot(row))
        return _finish(ctx, row)


def delete(db: Database, name: str, who: Principal, if_match: str | None, cascade: bool) -> None:
    require_label(KIND, name)
    with db.write() as session:
        ctx = begin_write(session, who)
        row = session.get(DepartmentRow, name)
        if row is None:
            raise not_found(KIND, name)
        check_if_match(if_match, row.revision, KIND, name)
        scope.authorize(ctx, "delete", KIND, name, row.parent)
        if not cascade:
            _refuse_if_children(ctx, name)
        _delete_subtree(ctx, row)
        ctx.finish()


def _refuse_if_children(ctx: WriteContext, name: str) -> None:
    n_projects = ctx.session.execute(
        select(func.count()).select_from(ProjectRow).where(ProjectRow.department == name)
    ).scalar_one()
    n_departments = ctx.session.execute(
        select(func.count()).select_from(DepartmentRow).where(DepartmentRow.parent == name)
    ).scalar_one()
    if n_projects or n_departments:
        raise ApiError(
            409,
            f"department {name!r} still has {n_projects} project(s) and {n_departments} "
            "department(s); move or delete them first, or delete with cascade=true",
            field="name",
        )


def _delete_subtree(ctx: WriteContext, row: DepartmentRow) -> None:
    """Deepest level first (its projects, then its departments), each object audited.
    Loops, not recursion, and a few statements per level, so no tree is too deep (or too
    wide) to delete; the generation lock makes the ORM's row-by-row checks unneeded."""
    session = ctx.session
    levels: dict[int, list[str]] = {}
    for name, level in rules.subtree(rules.parents_of(session), row.name):
        levels.setdefault(level, []).append(name)
    everyone = [name for names in levels.values() for name in names]
    by_department: dict[str | None, list[ProjectRow]] = {}
    for project in _rows_in(session, ProjectRow, ProjectRow.department, everyone):
        by_department.setdefault(project.department, []).append(project)
    departments = {d.name: d for d in _rows_in(session, DepartmentRow, DepartmentRow.name,
                                               everyone)}
    connection = session.connection()  # Core statements: no autoflush, no per-row checks
    for level in sorted(levels, reverse=True):
        names = sorted(levels[level])
        doomed = sorted((p for n in names for p in by_department.get(n, [])),
                        key=lambda p: p.name)
        for project in doomed:
            ctx.audit("project", project.name, "delete", project_snapshot(project), None)
        for name in names:
            ctx.audit(KIND, name, "delete", department_snapshot(departments[name]), None)
        for chunk in _chunks([p.name for p in doomed]):
            connection.execute(sql_delete(ProjectRow).where(ProjectRow.name.in_(chunk)))
        for chunk in _chunks(names):
            connection.execute(sql_delete(DepartmentRow).where(DepartmentRow.name.in_(chunk)))
    for obj in [*departments.values(), *(p for ps in by_department.values() for p in ps)]:
        session.expunge(obj)  # gone from the database: the session must not write it back


def _rows_in(session: Session, table: Any, column: Any, values: list[str]) -> list[Any]:
    return [row for chunk in _chunks(values)
            for row in session.scalars(select(table).where(column.in_(chunk)))]


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    # Well below SQLite's limit on bound parameters per statement.
    return [values[i:i + size] for i in range(0, len(values), size)]


def _changes(row: DepartmentRow, body: DepartmentPatch) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in body.model_fields_set:
        column = _COLUMNS[field]
        value = getattr(body, field)
        if getattr(row, column) != value:
            out[column] = value
    return out


def _finish(ctx: WriteContext, row: DepartmentRow) -> DepartmentWritten:
    candidates: list[Issue | None] = [
        rules.department_overcommit(ctx.session, row.name),
        rules.department_overcommit(ctx.session, row.parent),
        rules.capacity_overcommit(ctx.session),
    ]
    ctx.warnings.extend(w for w in candidates if w is not None)
    ctx.finish()
    return DepartmentWritten(**department_out(row).model_dump(), warnings=ctx.warnings)
