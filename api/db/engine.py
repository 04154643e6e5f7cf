"""Engines and transactions: SQLite (default) or PostgreSQL behind one `Database`.

Owns connection set-up (SQLite in WAL mode with foreign keys on; a fixed-size pool, no
overflow, so `pool_size x workers` is the most connections the API can open), every
database timeout (connect, lock, statement, pool checkout; all below the clients' own), and
the two transaction kinds the API uses: `read()` (one snapshot: REPEATABLE READ on
PostgreSQL, a WAL snapshot on SQLite) and `write()`. A write takes the database's write
lock up front (SQLite `BEGIN IMMEDIATE`; on PostgreSQL the store's first statement locks
the generation row), so writers queue instead of failing half-way. It must not know any
table beyond what `Database` needs to hand out sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

_WRITE = "quotient_write"
POSTGRES_EXTRA = "pip install 'quotient[postgres]'"


class DatabaseUrlError(ValueError):
    """The database URL cannot be used; the message says why and what would work."""


class DatabaseBusy(RuntimeError):
    """A write waited longer than the lock timeout for this process's writer lock."""


@dataclass(frozen=True)
class DbTimeouts:
    """Seconds; each below what the API's clients wait (the scheduler waits 2-5 s)."""

    connect_s: float = 3.0  # opening a connection (TCP + authentication)
    lock_s: float = 3.0  # waiting for a row or table lock (SQLite: busy_timeout)
    statement_s: float = 4.0  # one statement, server side (PostgreSQL)
    pool_s: float = 2.0  # waiting for a free pooled connection


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def parse_url(url: str) -> URL:
    """The URL, or DatabaseUrlError naming what is wrong and what is accepted."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"{url!r} is not a database URL; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(
            f"unsupported database {parsed.get_backend_name()!r} in {parsed!r}; use "
            "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        )
    return parsed


def make_engine(url: str, *, pool_size: int = 8, timeouts: DbTimeouts | None = None) -> Engine:
    """An engine for `url`; SQLite files get their directory created."""
    timeouts = timeouts or DbTimeouts()
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, pool_size, timeouts)
        return _postgres_engine(parsed, pool_size, timeouts)
    except ModuleNotFoundError as exc:
        raise DatabaseUrlError(
            f"{parsed.drivername} needs the {exc.name} driver, which is not installed: "
            f"{POSTGRES_EXTRA}"
        ) from None
    except NoSuchModuleError:
        raise DatabaseUrlError(
            f"unknown driver {parsed.drivername!r}; for PostgreSQL use postgresql+psycopg:// "
            f"({POSTGRES_EXTRA})"
        ) from None


def _postgres_engine(url: URL, pool_size: int, timeouts: DbTimeouts) -> Engine:
    # Options the URL itself sets win: an operator's ?connect_timeout= is kept.
    defaults: dict[str, Any] = {
        "connect_timeout": max(1, round(timeouts.connect_s)),
        "application_name": "quotient-api",
        # A partitioned server is noticed by the kernel rather than waited on forever.
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
        "keepalives_count": 3, "tcp_user_timeout": int(timeouts.statement_s * 2000),
    }
    connect_args = {k: v for k, v in defaults.items() if k not in url.query}
    # No overflow: the pool is the bound, so workers x pool_size < max_connections holds.
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=0, pool_timeout=timeouts.pool_s,
        pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args,
    )
    lock_ms, statement_ms = int(timeouts.lock_s * 1000), int(timeouts.statement_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {lock_ms}")
            cursor.execute(f"SET statement_timeout = {statement_ms}")
            cursor.execute(f"SET idle_in_transaction_session_timeout = {statement_ms * 2}")
        dbapi_connection.autocommit = autocommit

    return engine


def _sqlite_engine(url: str, pool_size: int, timeouts: DbTimeouts) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection, or every one is empty
    else:
        options.update(
            pool_size=pool_size, max_overflow=pool_size * 4, pool_timeout=timeouts.pool_s
        )
    engine = create_engine(url, **options)
    _install_sqlite_hooks(engine, wal=not in_memory, busy_ms=int(timeouts.lock_s * 1000))
    return engine


def _install_sqlite_hooks(engine: Engine, *, wal: bool, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say when transactions begin (see the begin hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that switching to WAL below waits for a concurrent first connection
        # (another worker starting) instead of failing with "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
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

    def __init__(self, engine: Engine, *, lock_timeout_s: float = 3.0) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        # One snapshot per read: a page's total and items, a tree and its generation, agree.
        reads = engine if self.sqlite else engine.execution_options(
            isolation_level="REPEATABLE READ"
        )
        self._read = sessionmaker(bind=reads, expire_on_commit=False)
        self._write = sessionmaker(bind=for_writing(engine), expire_on_commit=False)
        # SQLite lets one writer in at a time and makes the others poll with growing sleeps
        # (busy_timeout), which gives writers of this process a long, unfair tail; queueing
        # them on a lock first hands the database over as soon as it is free. Other
        # processes still wait through busy_timeout.
        self._writer_lock = threading.Lock() if self.sqlite else None
        self._lock_timeout_s = lock_timeout_s

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._queue_for_writing(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def _queue_for_writing(self) -> Iterator[None]:
        lock = self._writer_lock
        if lock is None:
            yield
            return
        if not lock.acquire(timeout=self._lock_timeout_s):
            raise DatabaseBusy(
                f"another write held the database for over {self._lock_timeout_s:g} s"
            )
        try:
            yield
        finally:
            lock.release()

    def dispose(self) -> None:
        self.engine.dispose()
