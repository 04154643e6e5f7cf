"""Reading the audit log: who changed what, when, with the values before and after.

Owns the audit query (newest first, filtered by kind, name or actor, paged). Entries are
written only by the store's writes (api.store.common.WriteContext.audit), in the same
transaction as the change. It must not write or delete entries.
"""

from __future__ import annotations

from sqlalchemy import func, select

from api.db.engine import Database
from api.db.models import AuditRow
from api.schemas import AuditEntryOut, AuditPage


def page(
    db: Database, *, limit: int, offset: int,
    kind: str | None = None, name: str | None = None, actor: str | None = None,
) -> AuditPage:
    query = select(AuditRow)
    count = select(func.count()).select_from(AuditRow)
    for column, value in ((AuditRow.kind, kind), (AuditRow.name, name), (AuditRow.actor, actor)):
        if value is not None:
            query = query.where(column == value)
            count = count.where(column == value)
    with db.read() as session:
        rows = session.scalars(query.order_by(AuditRow.id.desc()).limit(limit).offset(offset))
        items = [
            AuditEntryOut(
                id=r.id, at=r.at, actor=r.actor, kind=r.kind, name=r.name, action=r.action,
                before=r.before, after=r.after, generation=r.generation,
            )
            for r in rows
        ]
        total = session.execute(count).scalar_one()
    return AuditPage(items=items, total=total, limit=limit, offset=offset)
