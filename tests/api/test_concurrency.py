"""Optimistic concurrency under real contention: a uvicorn server on loopback and 20 HTTP
clients in threads, released together by a barrier. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import httpx

from tests.api.conftest import ADMIN, SCHEDULER, LiveServer, project

CLIENTS = 20
T = TypeVar("T")


def all_at_once(n: int, work: Callable[[httpx.Client, int], T], url: str) -> list[T]:
    """Run `work` in n threads, each with its own connection, released together."""
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=60) as http:
            http.get("/healthz")  # connected before the race starts
            barrier.wait()
            try:
                results[i] = work(http, i)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [r for r in results if r is not None]


def test_twenty_patches_with_the_same_if_match_have_exactly_one_winner(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, headers=ADMIN) as http:
        etag = http.post("/api/v1/projects", json=project(priority=0)).json()["etag"]

    def patch(http: httpx.Client, i: int) -> tuple[int, int]:
        response = http.patch("/api/v1/projects/team-a", json={"priority": i + 1},
                              headers={"If-Match": etag})
        return response.status_code, i + 1

    outcomes = all_at_once(CLIENTS, patch, live.url)

    winners = [value for status, value in outcomes if status == 200]
    assert sorted(status for status, _ in outcomes) == [200] + [412] * (CLIENTS - 1)
    with httpx.Client(base_url=live.url, headers=ADMIN) as http:
        final = http.get("/api/v1/projects/team-a").json()
        updates = http.get("/api/v1/audit", params={"name": "team-a", "kind": "project"}).json()
    assert final["priority"] == winners[0]
    assert [e["action"] for e in updates["items"]] == ["update", "create"]
    assert updates["items"][0]["after"]["priority"] == winners[0]


def test_read_modify_write_with_retries_loses_no_update(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, headers=ADMIN) as http:
        http.post("/api/v1/projects", json=project(priority=0)).raise_for_status()

    def increment(http: httpx.Client, _: int) -> int:
        for attempt in range(1, 200):
            current = http.get("/api/v1/projects/team-a").json()
            response = http.patch(
                "/api/v1/projects/team-a", json={"priority": current["priority"] + 1},
                headers={"If-Match": current["etag"]},
            )
            if response.status_code == 200:
                return attempt
            assert response.status_code == 412, response.text
        raise AssertionError("no progress after 200 attempts")

    attempts = all_at_once(CLIENTS, increment, live.url)

    with httpx.Client(base_url=live.url, headers=ADMIN) as http:
        final = http.get("/api/v1/projects/team-a").json()
        audit = http.get("/api/v1/audit", params={"name": "team-a", "limit": 500}).json()
    assert final["priority"] == CLIENTS
    assert [e["after"]["priority"] for e in audit["items"][:-1]] == list(range(CLIENTS, 0, -1))
    assert max(attempts) > 1  # the clients really did collide


def test_concurrent_creates_of_one_name_have_one_winner(live: LiveServer) -> None:
    def create(http: httpx.Client, i: int) -> int:
        return http.post("/api/v1/projects", json=project("contested", priority=i)).status_code

    statuses = all_at_once(CLIENTS, create, live.url)

    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1)


def test_concurrent_first_status_reports_all_land(live: LiveServer) -> None:
    def report(http: httpx.Client, i: int) -> int:
        body = {"cycle_at": i, "capacity_gpus": 8, "projects": [], "pending": []}
        return http.put("/api/v1/status", json=body, headers=SCHEDULER).status_code

    statuses = all_at_once(10, report, live.url)

    with httpx.Client(base_url=live.url, headers=ADMIN) as http:
        assert http.get("/api/v1/status").json()["cycle_at"] in range(10)
    assert statuses == [204] * 10
