"""Fixtures of the API suite: every API test runs on SQLite and again on PostgreSQL.

The `backend` fixture is parametrised ["sqlite", "postgres"]. SQLite gets a fresh file per
test. PostgreSQL gets one schema per test session (so parallel runs never meet) whose
tables are emptied before each test. The server is QUOTIENT_TEST_PG_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test); when it does not answer, the
PostgreSQL runs are skipped with a message, except under CI, where they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

# Starlette's TestClient nags about httpx2 on import; the suite uses httpx on purpose.
warnings.filterwarnings("ignore", message=".*httpx2.*")
from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402

PG_URL = os.environ.get(
    "QUOTIENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TOKENS = {
    "admin": "admin-secret-0123456789",
    "viewer": "viewer-secret-0123456789",
    "scheduler": "sched-secret-0123456789",
}
TOKENS_ENV = ",".join(f"{role}:{token}" for role, token in TOKENS.items())
DATA_TABLES = ("audit_log", "projects", "departments")


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


ADMIN, VIEWER, SCHEDULER = auth("admin"), auth("viewer"), auth("scheduler")


# ------------------------------------------------------------------- postgres


def _pg_unreachable(reason: str) -> None:
    message = f"PostgreSQL not reachable at {PG_URL}: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run the PostgreSQL suite; .ci/run starts one)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A schema of its own for this test session, dropped at the end."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.begin() as conn:
            schema = f"qt_{uuid.uuid4().hex[:12]}"
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to connect means: no server for us
        _pg_unreachable(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise
    try:
        yield schema
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def pg_url_for(schema: str) -> str:
    """The test server's URL with every connection's search_path set to `schema`."""
    url = make_url(PG_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def empty_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        tables = [t for t in DATA_TABLES if t in present]
        with engine.begin() as conn:
            if tables:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            if "quotient_meta" in present:  # the single-row tables go back to how they start
                conn.execute(text("UPDATE quotient_meta SET generation = 0"))
                conn.execute(text(
                    "UPDATE cluster_status SET reported_at = NULL, capacity_milli = NULL, "
                    "body = '{}'"
                ))
    finally:
        engine.dispose()


# -------------------------------------------------------------------- backends


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the backend under test (tables may exist, rows do not)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'quotient.db'}"
    url = pg_url_for(request.getfixturevalue("pg_schema"))
    empty_tables(url)
    return url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, tokens=TOKENS_ENV, db_pool_size=5)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:  # runs start-up: migrations
        yield test_client


# ----------------------------------------------------------------- live server


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_live_server(app: FastAPI) -> LiveServer:
    """uvicorn serving `app` on 127.0.0.1, an ephemeral port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("the live server thread died while starting")
        threading.Event().wait(0.02)
    else:
        raise RuntimeError("the live server did not start within 10 s")
    return LiveServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveServer]:
    server = start_live_server(app)
    try:
        yield server
    finally:
        server.stop()


# -------------------------------------------------------------------- builders


def project(name: str = "team-a", **fields: Any) -> dict[str, Any]:
    """A project create body: name plus whatever the test says."""
    return {"name": name, **fields}


def department(name: str = "research", **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


Poster = Callable[..., Any]
