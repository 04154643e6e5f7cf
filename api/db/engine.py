"""Engines and transactions: SQLite (default) or PostgreSQL behind one `Database`.

Owns connection set-up (SQLite in WAL mode with foreign keys on; a pool sized for the
server's thread pool) and the two transaction kinds the API uses: `read()` and `write()`.
A write takes the database's write lock up front (SQLite `BEGIN IMMEDIATE`; on PostgreSQL
the store's first statement locks the generation row), so writers queue instead of failing
half-way. It must not know any table beyond what `Database` needs to hand out sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

_WRITE = "quotient_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url`; SQLite files get their directory created."""
    if is_sqlite(url):
        return _sqlite_engine(url, pool_size)
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True,
        pool_recycle=1800,
    )


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection, or every one is empty
    else:
        options.update(pool_size=pool_size, max_overflow=pool_size * 4)
    engine = create_engine(url, **options)
    _install_sqlite_hooks(engine, wal=not in_memory)
    return engine


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say when transactions begin (see the begin hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that switching to WAL below waits for a concurrent first connection
        # (another worker starting) instead of failing with "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL-safe
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads, then writes, can fail with SQLITE_BUSY when
        # another writer got in between; IMMEDIATE takes the write lock first and waits.
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def for_writing(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{_WRITE: True})


class Database:
    """Sessions for the app: `read()` for queries, `write()` for one atomic change."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=for_writing(engine), expire_on_commit=False)
        # SQLite lets one writer in at a time and makes the others poll with growing sleeps
        # (busy_timeout), which gives writers of this process a long, unfair tail; queueing
        # them on a lock first hands the database over as soon as it is free. Other
        # processes still wait through busy_timeout.
        self._writer_lock = threading.Lock() if self.sqlite else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._queue_for_writing(), self._write() as session, session.begin():
            yield session

    def _queue_for_writing(self) -> AbstractContextManager[object]:
        return self._writer_lock if self._writer_lock is not None else nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()
