"""Initial schema: departments, projects, the audit log, the generation and the live status.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_NAME = sa.String(63)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _quota_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("deserved_milli", sa.BigInteger(), nullable=False),
        sa.Column("over_quota_weight_milli", sa.BigInteger(), nullable=True),
        sa.Column("limit_milli", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
    ]


def _stamp_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    ]


def upgrade() -> None:
    meta = op.create_table(
        "quotient_meta",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(meta, [{"id": 1, "generation": 0}])
    _create_quota_tables()
    _create_audit_and_status()


def _create_quota_tables() -> None:
    op.create_table(
        "departments",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("parent", _NAME, sa.ForeignKey("departments.name", ondelete="RESTRICT")),
        *_quota_columns(),
        *_stamp_columns(),
    )
    op.create_index("ix_departments_parent", "departments", ["parent"])
    op.create_table(
        "projects",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("department", _NAME, sa.ForeignKey("departments.name", ondelete="RESTRICT")),
        *_quota_columns(),
        sa.Column("node_pools", sa.JSON(), nullable=False),
        sa.Column("max_interactive_seconds", sa.Integer(), nullable=True),
        sa.Column("max_training_seconds", sa.Integer(), nullable=True),
        *_stamp_columns(),
    )
    op.create_index("ix_projects_department", "projects", ["department"])


def _create_audit_and_status() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True, autoincrement=True,
        ),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_audit_log_kind_name", "audit_log", ["kind", "name"])
    status = op.create_table(
        "cluster_status",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reported_at", _utc(), nullable=True),
        sa.Column("capacity_milli", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.bulk_insert(status, [{"id": 1, "reported_at": None, "capacity_milli": None, "body": {}}])


def downgrade() -> None:
    op.drop_table("cluster_status")
    op.drop_index("ix_audit_log_kind_name", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_projects_department", table_name="projects")
    op.drop_table("projects")
    op.drop_index("ix_departments_parent", table_name="departments")
    op.drop_table("departments")
    op.drop_table("quotient_meta")
