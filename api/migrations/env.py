"""Alembic environment: runs the migrations of api/migrations/versions on one connection.

Owns how Alembic gets its connection: the one `api.db.migrate` hands over in
`config.attributes["connection"]`, or else an engine built from `sqlalchemy.url` (when a
developer runs the `alembic` command by hand). It must not hold schema changes itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from api.db.engine import make_engine
from api.db.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection to run migrations")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run them online")
run_online()
