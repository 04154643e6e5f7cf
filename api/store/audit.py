"""Reading the audit log: who changed what, when, with the values before and after.

Owns the audit query (newest first, filtered by kind, name or actor, paged) and the one
entry written outside a change: a refused write (action `denied`, with the principal, the
source address and the request id). Changes are audited by the store's writes
(api.store.common.WriteContext.audit) in their own transaction; status reports by
api.store.status. It must not change or delete entries.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from api.db.engine import Database
from api.db.models import AuditRow
from api.schemas import AuditEntryOut, AuditPage
from api.store.common import current_generation, utcnow


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


log = logging.getLogger("quotient.api")


def record_denied(db: Database, actor: str, kind: str, name: str, detail: dict[str, Any]) -> None:
    """Audit a refused write. Best effort: a database that cannot take it is logged, and
    the refusal is answered all the same."""
    try:
        with db.write() as session:
            session.add(AuditRow(
                at=utcnow(), actor=actor, kind=kind, name=name[:63], action="denied",
                before=None, after=detail, generation=current_generation(session),
            ))
    except SQLAlchemyError as exc:
        log.warning("could not audit a refused write by %s: %s", actor, type(exc).__name__)
