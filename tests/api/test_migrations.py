"""Migrations: upgrade from empty, downgrade cleanly, the schema equals the models, and a
restart keeps every object. Runs on SQLite and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, inspect, text
from typer.testing import CliRunner

from api.app import create_app
from api.db import migrate
from api.db.engine import make_engine
from api.db.models import Base
from api.settings import Settings
from quotient.cli import build_app
from tests.api.conftest import ADMIN, PG_URL, TOKENS_ENV, department, pg_url_for, project
from tests.api.helpers import create

TABLES = {"quotient_meta", "departments", "projects", "audit_log", "cluster_status"}


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("pg_schema")  # skips or fails when there is no server
    schema = f"qt_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_url_for(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_upgrade_from_empty_then_downgrade_leaves_nothing(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        upgraded = set(inspect(engine).get_table_names())
        at_head = migrate.current_revision(engine)
        migrate.downgrade(engine, "base")
        downgraded = set(inspect(engine).get_table_names())
        migrate.upgrade(engine)  # and back up again: the round trip is clean
        again = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

    assert upgraded == TABLES | {"alembic_version"} == again
    assert at_head == migrate.head_revision()
    assert downgraded <= {"alembic_version"}


def test_servers_starting_together_migrate_once_without_failing(empty_db_url: str) -> None:
    engines = [make_engine(empty_db_url) for _ in range(4)]
    barrier, errors = threading.Barrier(len(engines)), []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            migrate.upgrade(engine)
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    revision = migrate.current_revision(engines[0])
    for engine in engines:
        engine.dispose()

    assert errors == [] and revision == migrate.head_revision()


def test_the_migrated_schema_equals_the_models(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()

    assert diff == []


def test_db_commands_upgrade_and_report_the_revision(empty_db_url: str) -> None:
    runner = CliRunner()

    upgraded = runner.invoke(build_app(), ["db", "upgrade", "--db", empty_db_url])
    current = runner.invoke(build_app(), ["db", "current", "--db", empty_db_url])
    down = runner.invoke(build_app(), ["db", "downgrade", "base", "--db", empty_db_url])

    head = migrate.head_revision()
    assert upgraded.exit_code == 0 and f"database at revision {head}" in upgraded.output
    assert f"current {head}; head {head}" in current.output
    assert down.exit_code == 0 and "database at revision None" in down.output


def test_a_restart_keeps_every_project(empty_db_url: str) -> None:
    settings = Settings(db_url=empty_db_url, tokens=TOKENS_ENV)
    with TestClient(create_app(settings)) as first:
        create(first, "departments", department("ml", deserved_gpus=64))
        for i in range(30):
            create(first, "projects", project(f"p{i:02d}", department="ml", deserved_gpus=i / 8,
                                              node_pools=["a100"], max_training_seconds=i + 1))
        before = first.get("/api/v1/quota-tree", headers=ADMIN).json()

    with TestClient(create_app(settings)) as second:  # migrations at start-up are a no-op
        after = second.get("/api/v1/quota-tree", headers=ADMIN).json()
        written = create(second, "projects", project("later"))

    assert after == before and len(after["projects"]) == 30
    assert written["etag"] == f'"r{before["generation"] + 1}"'  # generations never repeat


def test_the_default_database_is_a_sqlite_file_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "state", tokens=TOKENS_ENV)

    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["status"] == "ready"

    assert settings.database_url() == f"sqlite:///{tmp_path / 'state' / 'quotient.db'}"
    assert (tmp_path / "state" / "quotient.db").is_file()
