"""Applying the shipped Alembic migrations programmatically (start-up and `quotient db`).

Owns where the migrations live inside the package and how they run on a given engine:
in one transaction, and on PostgreSQL under an advisory lock so several API replicas
starting together do not race to create the same tables. It must not define schema changes.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from api.db.engine import for_writing

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_KEY = 0x51_55_4F_54  # "QUOT": any constant all replicas agree on


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    # Write-locked from the first statement: on SQLite, a transaction that first reads
    # (is the version table there?) and then writes fails outright when another process
    # (a second worker starting) wrote in between; taking the lock up front makes it wait.
    with for_writing(engine).begin() as connection:
        _lock(connection)
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with for_writing(engine).begin() as connection:
        _lock(connection)
        command.downgrade(_config(connection), revision)


def _lock(connection: Connection) -> None:
    # Released at commit; SQLite needs none (its write lock already serialises DDL).
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
