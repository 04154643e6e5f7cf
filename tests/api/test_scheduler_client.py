"""The scheduler's HTTP adapters against the real app: the quota tree it builds, ETag
reuse, keeping the last good tree when the API goes away, and status reporting.

Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fairshare.model import CyclePlan, PendingReason, ProjectSummary, ReasonCode
from fairshare.quota_tree import Department, Project, QuotaTree
from scheduler.api_client import HttpQuotaSource, QuotaUnavailable, StatusReporter
from scheduler.ports import CycleReport, ExecutionResult
from tests.api.conftest import (
    ADMIN,
    SCHEDULER,
    TOKENS,
    VIEWER,
    LiveServer,
    department,
    project,
    start_live_server,
)
from tests.api.helpers import create


def scheduler_client(app_client: TestClient) -> TestClient:
    app_client.headers.update(SCHEDULER)
    return app_client


def test_the_quota_tree_becomes_the_cores_quota_tree(client: TestClient) -> None:
    create(client, "departments", department("org", deserved_gpus=32, limit_gpus=40))
    create(client, "departments", department("ml", parent="org", deserved_gpus=16,
                                             over_quota_weight=2, priority=1))
    create(client, "projects", project(
        "vision", department="ml", deserved_gpus=4.5, over_quota_weight=0.25, limit_gpus=8,
        priority=2, node_pools=["a100"], max_interactive_seconds=3600,
        max_training_seconds=86400,
    ))
    create(client, "projects", project("solo", deserved_gpus=1))

    tree = HttpQuotaSource(client=scheduler_client(client)).quota_tree()

    assert tree == QuotaTree.build(
        [
            Project("vision", deserved_milli=4500, over_quota_weight_milli=250, limit_milli=8000,
                    priority=2, department="ml", node_pools=("a100",),
                    max_interactive_seconds=3600, max_training_seconds=86400),
            Project("solo", deserved_milli=1000),
        ],
        [
            Department("org", deserved_milli=32000, limit_milli=40000),
            Department("ml", deserved_milli=16000, over_quota_weight_milli=2000, priority=1,
                       parent="org"),
        ],
    )
    assert tree.ancestors("vision") == ("ml", "org")


def test_an_unchanged_tree_is_not_fetched_again(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=1))
    source = HttpQuotaSource(client=scheduler_client(client))

    first = source.quota_tree()
    second = source.quota_tree()
    client.patch("/api/v1/projects/a", json={"deserved_gpus": 2}, headers=ADMIN)
    third = source.quota_tree()

    assert second is first and source.fetches == 2
    assert third.projects["a"].deserved_milli == 2000


def test_the_last_good_tree_is_kept_when_the_api_goes_away(app: FastAPI) -> None:
    live: LiveServer = start_live_server(app)
    try:
        with httpx.Client(base_url=live.url, headers=ADMIN) as admin:
            admin.post("/api/v1/projects", json=project("a", deserved_gpus=3)).raise_for_status()
        source = HttpQuotaSource(live.url, TOKENS["scheduler"], timeout_s=2)
        before = source.quota_tree()
    finally:
        live.stop()

    after = source.quota_tree()

    assert after is before and after.projects["a"].deserved_milli == 3000
    source.close()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_without_any_tree_an_unreachable_api_is_an_error() -> None:
    source = HttpQuotaSource(_closed_port_url(), "token", timeout_s=1)

    with pytest.raises(QuotaUnavailable, match="unreachable"):
        source.quota_tree()


def test_a_refused_token_is_an_error_that_says_so(client: TestClient) -> None:
    client.headers.update(VIEWER | {"Authorization": "Bearer wrong"})

    with pytest.raises(QuotaUnavailable, match="401"):
        HttpQuotaSource(client=client).quota_tree()


def cycle(plan: CyclePlan, at: int = 42) -> CycleReport:
    return CycleReport(at=at, plan=plan, result=ExecutionResult())


def test_the_reporter_puts_each_cycles_summary(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=2))
    plan = CyclePlan(
        projects={"a": ProjectSummary("a", deserved_milli=2000, fair_share_milli=3500,
                                      allocated_milli=2500, running=2, pending=1,
                                      demand_milli=4000)},
        pending={
            "ns/job": PendingReason(ReasonCode.OVER_FAIR_SHARE, "at its fair share", "a"),
            "ns/orphan": PendingReason(ReasonCode.PROJECT_NOT_FOUND, "no such project", "gone"),
        },
        capacity_milli=8000,
    )
    reporter = StatusReporter(client=scheduler_client(client))

    reporter.on_cycle(cycle(plan))

    status = client.get("/api/v1/status", headers=VIEWER).json()
    assert reporter.failures == 0 and status["cycle_at"] == 42
    assert status["cluster"] == {"total_gpus": 8, "allocated_gpus": 2.5, "idle_gpus": 5.5}
    row = status["projects"][0]
    assert (row["fair_share_gpus"], row["allocated_gpus"], row["demand_gpus"]) == (3.5, 2.5, 4)
    assert [(p["workload"], p["code"]) for p in row["pending_reasons"]] == [
        ("ns/job", "OverFairShare")
    ]
    # A workload whose project does not exist cannot be shown under any project.
    assert [p["workload"] for p in status["unattributed_pending"]] == ["ns/orphan"]


def test_a_reporting_failure_never_stops_the_cycle() -> None:
    reporter = StatusReporter(_closed_port_url(), "token", timeout_s=1)

    reporter.on_cycle(cycle(CyclePlan()))

    assert reporter.failures == 1
    reporter.close()
