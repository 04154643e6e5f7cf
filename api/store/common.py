"""What every write shares: the generation lock, ETags, the audit entry, capacity.

Owns the write protocol: lock the generation row first (so writes are serialised on both
SQLite and PostgreSQL and cross-object checks cannot race), check `If-Match`, change rows,
add one audit entry, bump the generation, all in one transaction that the store's
operations open with `Database.write()`. It must not open transactions itself nor know
HTTP beyond raising `ApiError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.models import AuditRow, Meta, StatusRow
from api.errors import ApiError, Issue


def utcnow() -> datetime:
    return datetime.now(UTC)


def etag_of(revision: int) -> str:
    return f'"r{revision}"'


def matches(if_match: str | None, revision: int) -> bool:
    """RFC 9110 If-Match: absent or `*` matches; else any listed tag (weak or not, quoted
    or not, since people type them by hand) equal to the current one."""
    if if_match is None or if_match.strip() == "*":
        return True
    wanted = f"r{revision}"
    for tag in if_match.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == wanted:
            return True
    return False


def check_if_match(if_match: str | None, revision: int, kind: str, name: str) -> None:
    if not matches(if_match, revision):
        raise ApiError(
            412,
            f"{kind} {name!r} changed since you read it: If-Match {if_match} does not match "
            f"the current ETag {etag_of(revision)}; read it again and retry",
            field="If-Match",
        )


def current_generation(session: Session) -> int:
    return session.execute(select(Meta.generation).where(Meta.id == 1)).scalar_one()


@dataclass
class WriteContext:
    """One write in progress: who does it, when, and the generation it will commit as."""

    session: Session
    actor: str
    at: datetime
    generation: int  # the generation this write commits as (current + 1)
    warnings: list[Issue] = field(default_factory=list)
    changed: bool = False
    who: Principal | None = None  # None for writes the system makes itself

    def audit(
        self, kind: str, name: str, action: str,
        before: dict[str, Any] | None, after: dict[str, Any] | None,
    ) -> None:
        self.session.add(
            AuditRow(
                at=self.at, actor=self.actor, kind=kind, name=name, action=action,
                before=before, after=after, generation=self.generation,
            )
        )
        self.changed = True

    def finish(self) -> None:
        """Bump the generation if anything changed; an unchanged write leaves it as is."""
        if self.changed:
            self.session.execute(
                update(Meta).where(Meta.id == 1).values(generation=self.generation)
            )
            self.session.flush()


def begin_write(session: Session, who: Principal) -> WriteContext:
    """Lock the generation row (PostgreSQL row lock; SQLite already holds its write lock)."""
    generation = session.execute(
        select(Meta.generation).where(Meta.id == 1).with_for_update()
    ).scalar_one()
    return WriteContext(
        session=session, actor=who.actor, at=utcnow(), generation=generation + 1, who=who
    )


def reported_capacity_milli(session: Session) -> int | None:
    """The cluster's GPU capacity as the scheduler last reported it, if it has."""
    return session.execute(
        select(StatusRow.capacity_milli).where(StatusRow.id == 1)
    ).scalar_one_or_none()
