"""The API when its database is locked, overloaded, partitioned or gone (issue 10, items
3-6): every answer is bounded in time, /healthz never waits for the database, /readyz says
503 within 2 s, outages are 503 with Retry-After in the documented JSON shape, the pool
never opens more than its size, and reads see one snapshot.

Timeouts are set small (under a second) so these tests stay fast; the defaults are larger
but ordered the same way, below the clients' own."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import (
    ADMIN,
    PG_URL,
    TOKENS_ENV,
    LiveServer,
    empty_tables,
    pg_url_for,
    start_live_server,
)
from tests.api.netfaults import FaultyProxy, HealthProbe

FAST = {
    "db_connect_timeout_s": 1, "db_lock_timeout_s": 0.5, "db_statement_timeout_s": 1,
    "db_pool_timeout_s": 0.5, "request_timeout_s": 1.5, "write_queue_timeout_s": 0.5,
    "write_concurrency": 2,
}


def _serve(db_url: str, **overrides: Any) -> LiveServer:
    settings = Settings(db_url=db_url, tokens=TOKENS_ENV, db_pool_size=3, **{**FAST, **overrides})
    return start_live_server(create_app(settings))


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) > 0
    [issue] = response.json()["detail"]
    assert issue["field"] is None and "retry" in issue["reason"]


def _concurrently(n: int, work: Any) -> list[Any]:
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _patches(url: str, n: int) -> list[tuple[int, float, httpx.Response]]:
    """n PATCHes at once, each on its own connection of one shared (thread-safe) client."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    with httpx.Client(base_url=url, headers=ADMIN, timeout=30, limits=limits) as http:

        def patch(i: int) -> tuple[int, float, httpx.Response]:
            start = time.perf_counter()
            response = http.patch("/api/v1/projects/a", json={"priority": i})
            return response.status_code, time.perf_counter() - start, response

        return _concurrently(n, patch)


# --------------------------------------------------------------- a held lock


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    path = tmp_path / "quotient.db"
    server = _serve(f"sqlite:///{path}")
    try:
        yield server, path
    finally:
        server.stop()


def test_sqlite_writers_behind_an_external_lock_get_503_and_health_stays_fast(
    sqlite_server: tuple[LiveServer, Path],
) -> None:
    server, path = sqlite_server
    httpx.post(f"{server.url}/api/v1/projects", json={"name": "a"}, headers=ADMIN)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with HealthProbe(server.url).running() as probe:
            outcomes = _patches(server.url, 30)
            ready = httpx.get(f"{server.url}/readyz", timeout=5)
    finally:
        holder.rollback()
        holder.close()

    assert {status for status, _, _ in outcomes} == {503}
    assert max(seconds for _, seconds, _ in outcomes) < 3
    _assert_unavailable(outcomes[0][2])
    assert probe.failures == [] and probe.worst() < 1.0
    assert ready.status_code == 200  # readers are not blocked by a writer in WAL mode
    after = httpx.patch(f"{server.url}/api/v1/projects/a", json={"priority": 7}, headers=ADMIN)
    assert after.status_code == 200


# ------------------------------------------------------------ PostgreSQL outages


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    url = pg_url_for(pg_schema)
    empty_tables(url)
    return url


@pytest.fixture
def proxied(pg_url: str) -> Iterator[tuple[LiveServer, FaultyProxy]]:
    target = make_url(PG_URL)
    proxy = FaultyProxy((target.host or "127.0.0.1", target.port or 5432))
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    server = _serve(url.render_as_string(hide_password=False))
    try:
        yield server, proxy
    finally:
        proxy.close()
        server.stop()


@pytest.mark.postgres
def test_postgres_writers_behind_a_held_row_lock_get_503_and_reads_go_on(
    pg_url: str,
) -> None:
    server = _serve(pg_url)
    holder = create_engine(pg_url)
    try:
        httpx.post(f"{server.url}/api/v1/projects", json={"name": "a"}, headers=ADMIN)
        with holder.connect() as conn, HealthProbe(server.url).running() as probe:
            conn.execute(text("SELECT generation FROM quotient_meta WHERE id = 1 FOR UPDATE"))
            outcomes = _patches(server.url, 20)
            with httpx.Client(base_url=server.url, headers=ADMIN, timeout=5) as http:
                reads = [http.get(p) for p in ("/readyz", "/api/v1/projects/a",
                                                "/api/v1/quota-tree", "/api/v1/audit")]
            conn.rollback()
        assert {status for status, _, _ in outcomes} == {503}
        assert max(seconds for _, seconds, _ in outcomes) < 3
        _assert_unavailable(outcomes[0][2])
        assert [r.status_code for r in reads] == [200] * 4
        assert probe.failures == [] and probe.worst() < 1.0
    finally:
        holder.dispose()
        server.stop()


@pytest.mark.postgres
def test_a_blackholed_postgres_gives_503s_in_time_and_recovers(
    proxied: tuple[LiveServer, FaultyProxy],
) -> None:
    server, proxy = proxied
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
        assert http.post("/api/v1/projects", json={"name": "a"}).status_code == 201
        proxy.blackhole()
        with HealthProbe(server.url).running() as probe:
            start = time.perf_counter()
            ready = http.get("/readyz")
            ready_s = time.perf_counter() - start
            start = time.perf_counter()
            calls = [lambda: http.get("/api/v1/projects/a"), lambda: http.get("/api/v1/projects"),
                     lambda: http.patch("/api/v1/projects/a", json={"priority": 3})]
            responses = _concurrently(len(calls), lambda i: calls[i]())
            slowest = time.perf_counter() - start
        assert ready.status_code == 503 and ready.json()["status"] == "unready"
        assert ready_s < 2.5
        for response in responses:
            _assert_unavailable(response)
        assert slowest < 2.5
        assert probe.failures == [] and probe.worst() < 1.0
        proxy.heal()
        _wait_for(lambda: http.get("/readyz").status_code == 200)
        assert http.patch("/api/v1/projects/a", json={"priority": 4}).status_code == 200


@pytest.mark.postgres
def test_a_dropped_postgres_is_a_json_503_not_a_text_500(
    proxied: tuple[LiveServer, FaultyProxy],
) -> None:
    server, proxy = proxied
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
        assert http.post("/api/v1/projects", json={"name": "a"}).status_code == 201
        proxy.drop()
        for response in (http.get("/api/v1/projects/a"), http.get("/api/v1/quota-tree"),
                         http.post("/api/v1/projects", json={"name": "b"})):
            _assert_unavailable(response)
        assert http.get("/readyz").status_code == 503
        proxy.heal()
        _wait_for(lambda: http.get("/api/v1/projects/a").status_code == 200)


@pytest.mark.postgres
def test_start_up_against_a_partitioned_postgres_fails_quickly_and_says_so(
    pg_url: str,
) -> None:
    proxy = FaultyProxy(("127.0.0.1", make_url(PG_URL).port or 5432))
    proxy.blackhole()
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    settings = Settings(db_url=url.render_as_string(hide_password=False), tokens=TOKENS_ENV,
                        **FAST)
    start = time.perf_counter()
    try:
        from fastapi.testclient import TestClient

        with pytest.raises(Exception, match=r"timeout|timed out"), TestClient(create_app(settings)):
            pass
    finally:
        proxy.close()
    assert time.perf_counter() - start < 5


@pytest.mark.postgres
def test_the_pool_never_opens_more_connections_than_its_size(pg_url: str) -> None:
    """--workers N x db_pool_size is the most the API opens: no overflow beyond the pool;
    a request finding every connection taken gets 503 once the pool timeout passes."""
    name = f"qt-pool-{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).update_query_dict({"application_name": name})
    settings = Settings(db_url=url.render_as_string(hide_password=False), tokens=TOKENS_ENV,
                        db_pool_size=3, **FAST)
    app = create_app(settings)
    server = start_live_server(app)
    counter = create_engine(PG_URL)
    held = []
    try:
        httpx.post(f"{server.url}/api/v1/projects", json={"name": "a"}, headers=ADMIN)
        held = [app.state.db.engine.connect() for _ in range(3)]
        for conn in held:
            conn.execute(text("SELECT 1"))
        with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
            crowded = http.get("/api/v1/projects/a")
            with counter.connect() as conn:
                opened = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": name},
                ).scalar_one()
            for conn in held:
                conn.close()
            assert http.get("/api/v1/projects/a").status_code == 200
        _assert_unavailable(crowded)
        assert "connection" in crowded.json()["detail"][0]["reason"]
        assert opened == 3
    finally:
        for conn in held:
            conn.close()
        counter.dispose()
        server.stop()


# ------------------------------------------------------------------- snapshots


@pytest.mark.postgres
def test_reads_see_one_snapshot_while_writers_change_the_tree(pg_url: str) -> None:
    server = _serve(pg_url, request_timeout_s=5, db_lock_timeout_s=3,
                    db_statement_timeout_s=4, write_queue_timeout_s=3)
    stop = threading.Event()

    def churn() -> None:
        with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
            i = 0
            while not stop.is_set():
                http.post("/api/v1/projects", json={"name": f"p{i}"})
                if i % 3 == 0:
                    http.delete(f"/api/v1/projects/p{i - 1}")
                i += 1

    writers = [threading.Thread(target=churn) for _ in range(1)]
    torn: list[str] = []
    try:
        for w in writers:
            w.start()
        with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
            deadline = time.monotonic() + 1.2
            while time.monotonic() < deadline:
                tree = http.get("/api/v1/quota-tree").json()
                newer = [p["name"] for p in tree["projects"]
                         if int(p["etag"].strip('"r')) > tree["generation"]]
                page = http.get("/api/v1/projects", params={"limit": 500}).json()
                if newer:
                    torn.append(f"tree g{tree['generation']} holds newer {newer}")
                if page["total"] != len(page["items"]):
                    torn.append(f"page total {page['total']} != {len(page['items'])} items")
    finally:
        stop.set()
        for w in writers:
            w.join()
        server.stop()
    assert torn == []


def _wait_for(condition: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
