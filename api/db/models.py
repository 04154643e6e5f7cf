"""SQLAlchemy 2.0 typed models: the tables the REST API stores quotas, audit and status in.

Owns the column layout (GPUs as integer milli-GPUs, weights x1000, times in UTC) and the
per-row `revision` that backs each object's ETag. It must not validate requests or render
responses; schema changes go through a migration in api/migrations/versions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAME_LEN = 63  # DNS-1123 label


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Meta(Base):
    """One row: the generation, bumped by every write (the quota tree's ETag)."""

    __tablename__ = "quotient_meta"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class DepartmentRow(Base):
    __tablename__ = "departments"
    name: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    parent: Mapped[str | None] = mapped_column(
        String(NAME_LEN), ForeignKey("departments.name", ondelete="RESTRICT"), index=True
    )
    deserved_milli: Mapped[int] = mapped_column(BigInteger)
    over_quota_weight_milli: Mapped[int | None] = mapped_column(BigInteger)
    limit_milli: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(BigInteger)  # generation of its last write
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Every ORM UPDATE/DELETE also says WHERE revision = <the one read>: a conditional write,
    # so even a write that bypassed the generation lock could not overwrite a newer one.
    __mapper_args__ = {  # noqa: RUF012 (SQLAlchemy declares it an instance variable)
        "version_id_col": revision, "version_id_generator": False,
    }


class ProjectRow(Base):
    __tablename__ = "projects"
    name: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    department: Mapped[str | None] = mapped_column(
        String(NAME_LEN), ForeignKey("departments.name", ondelete="RESTRICT"), index=True
    )
    deserved_milli: Mapped[int] = mapped_column(BigInteger)
    over_quota_weight_milli: Mapped[int | None] = mapped_column(BigInteger)
    limit_milli: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(Integer)
    node_pools: Mapped[list[str]] = mapped_column(JSON)
    max_interactive_seconds: Mapped[int | None] = mapped_column(Integer)
    max_training_seconds: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __mapper_args__ = {  # noqa: RUF012 (SQLAlchemy declares it an instance variable)
        "version_id_col": revision, "version_id_generator": False,
    }


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_kind_name", "kind", "name"),)
    # BIGINT autoincrement is not a rowid alias on SQLite; INTEGER there keeps ids ascending.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    generation: Mapped[int] = mapped_column(BigInteger)


class StatusRow(Base):
    """One row, created by the migration: the scheduler's latest cycle summary, replaced on
    every report (an UPDATE, so concurrent first reports cannot both insert)."""

    __tablename__ = "cluster_status"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None = never
    capacity_milli: Mapped[int | None] = mapped_column(BigInteger)  # also in body; for writes
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
