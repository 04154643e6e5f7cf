"""Applying the shipped Alembic migrations programmatically (start-up and `quotient db`).

Owns where the migrations live inside the package and how they run on a given engine:
in one transaction, and on PostgreSQL under an advisory lock so several API replicas
starting together do not race to create the same tables. It must not define schema changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from api.db.engine import for_writing

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_KEY = 0x51_55_4F_54  # "QUOT": any constant all replicas agree on
_MIGRATION_WAIT_S = 60


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
    with _patient(for_writing(engine)) as connection:
        _lock(connection)
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with _patient(for_writing(engine)) as connection:
        _lock(connection)
        command.downgrade(_config(connection), revision)


@contextmanager
def _patient(engine: Engine) -> Iterator[Connection]:
    """A transaction that may wait for another replica's migration: the engine's short
    request timeouts are for serving, not for DDL behind another process's lock."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if sqlite else None
        # On the driver connection, before SQLAlchemy's BEGIN IMMEDIATE starts waiting.
        usual = raw.execute("PRAGMA busy_timeout").fetchone()[0] if raw is not None else None
        if raw is not None:
            raw.execute(f"PRAGMA busy_timeout={_MIGRATION_WAIT_S * 1000}")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text(f"SET LOCAL lock_timeout = '{_MIGRATION_WAIT_S}s'"))
                    connection.execute(text("SET LOCAL statement_timeout = 0"))
                yield connection
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout={usual}")


def _lock(connection: Connection) -> None:
    # Released at commit; SQLite needs none (its write lock already serialises DDL).
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
