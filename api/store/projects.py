"""Projects: create, read, list, update and delete, each write one atomic transaction.

Owns the project operations the routes call: each write locks the generation, checks
`If-Match`, validates against the tree (api.store.rules), changes the row, writes one
audit entry with before/after values and bumps the generation, or changes nothing at all.
It must not render HTTP responses beyond the response models nor parse requests.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from api.auth import Principal
from api.db.engine import Database
from api.db.models import ProjectRow
from api.errors import not_found, require_label
from api.schemas import ProjectCreate, ProjectOut, ProjectPage, ProjectPatch, ProjectWritten
from api.store import rules, scope
from api.store.common import WriteContext, begin_write, check_if_match
from api.store.render import project_out, project_snapshot

KIND = "project"
# request field -> column; GPUs arrive already converted to milli by the schema types
_COLUMNS = {
    "department": "department",
    "deserved_gpus": "deserved_milli",
    "over_quota_weight": "over_quota_weight_milli",
    "limit_gpus": "limit_milli",
    "priority": "priority",
    "node_pools": "node_pools",
    "max_interactive_seconds": "max_interactive_seconds",
    "max_training_seconds": "max_training_seconds",
}


def get(db: Database, name: str) -> ProjectOut:
    require_label(KIND, name)
    with db.read() as session:
        row = session.get(ProjectRow, name)
        if row is None:
            raise not_found(KIND, name)
        return project_out(row)


def page(
    db: Database, *, limit: int, offset: int, department: str | None = None
) -> ProjectPage:
    with db.read() as session:
        query = select(ProjectRow)
        count = select(func.count()).select_from(ProjectRow)
        if department is not None:
            query = query.where(ProjectRow.department == department)
            count = count.where(ProjectRow.department == department)
        rows = session.scalars(query.order_by(ProjectRow.name).limit(limit).offset(offset))
        items = [project_out(r) for r in rows]
        total = session.execute(count).scalar_one()
        return ProjectPage(items=items, total=total, limit=limit, offset=offset)


def create(db: Database, body: ProjectCreate, who: Principal) -> ProjectWritten:
    with db.write() as session:
        ctx = begin_write(session, who)
        scope.authorize(ctx, "create", KIND, body.name, body.department)
        rules.ensure_name_free(session, body.name)
        rules.ensure_department(session, body.department, "department")
        rules.check_limit(body.deserved_gpus, body.limit_gpus)
        values = {column: getattr(body, field) for field, column in _COLUMNS.items()}
        row = ProjectRow(
            name=body.name, revision=ctx.generation, created_at=ctx.at, updated_at=ctx.at,
            **values,
        )
        session.add(row)
        session.flush()
        ctx.audit(KIND, row.name, "create", None, project_snapshot(row))
        return _finish(ctx, row)


def update(
    db: Database, name: str, body: ProjectPatch, who: Principal, if_match: str | None
) -> ProjectWritten:
    require_label(KIND, name)
    with db.write() as session:
        ctx = begin_write(session, who)
        row = session.get(ProjectRow, name)
        if row is None:
            raise not_found(KIND, name)
        check_if_match(if_match, row.revision, KIND, name)
        changes = _changes(row, body)
        scope.authorize(
            ctx, "update", KIND, name, row.department, changes.get("department", row.department)
        )
        if "department" in changes:
            rules.ensure_department(session, changes["department"], "department")
        rules.check_limit(
            changes.get("deserved_milli", row.deserved_milli),
            changes.get("limit_milli", row.limit_milli),
        )
        if changes:
            before = project_snapshot(row)
            for column, value in changes.items():
                setattr(row, column, value)
            row.revision = ctx.generation
            row.updated_at = ctx.at
            session.flush()
            ctx.audit(KIND, name, "update", before, project_snapshot(row))
        return _finish(ctx, row)


def delete(db: Database, name: str, who: Principal, if_match: str | None) -> None:
    require_label(KIND, name)
    with db.write() as session:
        ctx = begin_write(session, who)
        row = session.get(ProjectRow, name)
        if row is None:
            raise not_found(KIND, name)
        check_if_match(if_match, row.revision, KIND, name)
        scope.authorize(ctx, "delete", KIND, name, row.department)
        delete_row(ctx, row)
        ctx.finish()


def delete_row(ctx: WriteContext, row: ProjectRow) -> None:
    """Delete one project inside a write already in progress (also used by cascades)."""
    before = project_snapshot(row)
    ctx.session.delete(row)
    ctx.session.flush()
    ctx.audit(KIND, row.name, "delete", before, None)


def _changes(row: ProjectRow, body: ProjectPatch) -> dict[str, Any]:
    """Columns whose requested value differs from the stored one."""
    out: dict[str, Any] = {}
    for field in body.model_fields_set:
        column = _COLUMNS[field]
        value = getattr(body, field)
        if getattr(row, column) != value:
            out[column] = value
    return out


def _finish(ctx: WriteContext, row: ProjectRow) -> ProjectWritten:
    for warning in (
        rules.department_overcommit(ctx.session, row.department),
        rules.capacity_overcommit(ctx.session),
    ):
        if warning is not None:
            ctx.warnings.append(warning)
    ctx.finish()
    return ProjectWritten(**project_out(row).model_dump(), warnings=ctx.warnings)
