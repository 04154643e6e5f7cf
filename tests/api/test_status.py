"""Live status: the scheduler's report in, per-project shares and cluster totals out, the
same numbers as Prometheus gauges; health and readiness. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, SCHEDULER, VIEWER, project
from tests.api.helpers import create, issues


def usage(name: str, **fields: Any) -> dict[str, Any]:
    defaults = {"deserved_gpus": 0, "fair_share_gpus": 0, "allocated_gpus": 0,
                "demand_gpus": 0, "running": 0, "pending": 0}
    return {"name": name, **defaults, **fields}


def report(**fields: Any) -> dict[str, Any]:
    return {"cycle_at": 100, "capacity_gpus": 16, "projects": [], "pending": [], **fields}


def test_status_before_any_report_lists_projects_with_zeros(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=2))

    status = client.get("/api/v1/status", headers=VIEWER).json()

    assert status["reported_at"] is None and status["cycle_at"] is None
    assert status["cluster"] == {"total_gpus": 0, "allocated_gpus": 0, "idle_gpus": 0}
    assert status["projects"][0]["deserved_gpus"] == 2
    assert status["projects"][0]["allocated_gpus"] == 0


def test_a_report_shows_per_project_shares_and_cluster_totals(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=4))
    create(client, "projects", project("b", deserved_gpus=2))
    body = report(
        capacity_gpus=16,
        projects=[
            usage("a", deserved_gpus=4, fair_share_gpus=10, allocated_gpus=9.5, demand_gpus=12,
                  running=3, pending=1),
            usage("b", deserved_gpus=2, fair_share_gpus=6, allocated_gpus="2.5", running=1),
        ],
        pending=[
            {"workload": "ns/a-big", "project": "a", "code": "OverFairShare",
             "message": "team a is at its fair share of 10 GPUs"},
            {"workload": "ns/orphan", "code": "ProjectNotFound", "message": "no project"},
        ],
    )

    put = client.put("/api/v1/status", json=body, headers=SCHEDULER)
    status = client.get("/api/v1/status", headers=VIEWER).json()

    assert put.status_code == 204
    assert status["cycle_at"] == 100 and status["reported_at"] is not None
    assert status["cluster"] == {"total_gpus": 16, "allocated_gpus": 12, "idle_gpus": 4}
    a, b = status["projects"]
    assert (a["fair_share_gpus"], a["allocated_gpus"], a["demand_gpus"]) == (10, 9.5, 12)
    assert (a["running"], a["pending"]) == (3, 1)
    assert a["pending_reasons"] == [{"workload": "ns/a-big", "code": "OverFairShare",
                                     "message": "team a is at its fair share of 10 GPUs"}]
    assert (b["allocated_gpus"], b["pending_reasons"]) == (2.5, [])
    assert [p["workload"] for p in status["unattributed_pending"]] == ["ns/orphan"]


def test_a_project_status_is_read_on_its_own(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=4))
    client.put("/api/v1/status", headers=SCHEDULER,
               json=report(projects=[usage("a", fair_share_gpus=5, allocated_gpus=3)]))

    found = client.get("/api/v1/projects/a/status", headers=VIEWER)
    missing = client.get("/api/v1/projects/ghost/status", headers=VIEWER)

    assert found.status_code == 200
    assert (found.json()["fair_share_gpus"], found.json()["allocated_gpus"]) == (5, 3)
    assert found.json()["reported_at"] is not None
    assert missing.status_code == 404


def test_deserved_comes_from_the_configuration_not_the_report(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=4))
    client.put("/api/v1/status", json=report(projects=[usage("a", deserved_gpus=1)]),
               headers=SCHEDULER)
    client.patch("/api/v1/projects/a", json={"deserved_gpus": 6}, headers=ADMIN)

    status = client.get("/api/v1/projects/a/status", headers=VIEWER).json()

    assert status["deserved_gpus"] == 6


def test_a_newer_report_replaces_the_older(client: TestClient) -> None:
    create(client, "projects", project("a"))
    client.put("/api/v1/status", json=report(cycle_at=1, projects=[usage("a", running=5)]),
               headers=SCHEDULER)
    client.put("/api/v1/status", json=report(cycle_at=2, projects=[usage("a", running=1)]),
               headers=SCHEDULER)

    status = client.get("/api/v1/status", headers=VIEWER).json()

    assert status["cycle_at"] == 2 and status["projects"][0]["running"] == 1


INVALID_REPORTS = [
    pytest.param({"capacity_gpus": -1}, "capacity_gpus", id="negative capacity"),
    pytest.param({"capacity_gpus": 0.0001}, "capacity_gpus", id="too many decimals"),
    pytest.param({"projects": [usage("a", running=-1)]}, "projects[0].running",
                 id="a negative workload count"),
    pytest.param({"projects": [usage("a", allocated_gpus="lots")]},
                 "projects[0].allocated_gpus", id="non-numeric allocated gpus"),
    pytest.param({"pending": [{"workload": "w", "code": "X"}]}, "pending[0].message",
                 id="a pending reason needs a message"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID_REPORTS)
def test_an_invalid_report_is_rejected_naming_the_field(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    response = client.put("/api/v1/status", json=report(**fields), headers=SCHEDULER)

    assert response.status_code == 422
    assert field in [f for f, _ in issues(response)], issues(response)


def test_a_status_report_is_not_a_quota_change(client: TestClient) -> None:
    first = client.get("/api/v1/quota-tree", headers=ADMIN)

    client.put("/api/v1/status", json=report(), headers=SCHEDULER)

    unchanged = {**ADMIN, "If-None-Match": first.headers["ETag"]}
    again = client.get("/api/v1/quota-tree", headers=unchanged)
    assert again.status_code == 304


def test_metrics_export_the_status_as_gauges(client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=4))
    client.put("/api/v1/status", headers=SCHEDULER, json=report(
        capacity_gpus=8, projects=[usage("a", fair_share_gpus=6, allocated_gpus=1.5, pending=2)],
    ))

    text = client.get("/metrics", headers=VIEWER).text

    for line in [
        'quotient_project_deserved_gpus{project="a"} 4.0',
        'quotient_project_fair_share_gpus{project="a"} 6.0',
        'quotient_project_allocated_gpus{project="a"} 1.5',
        'quotient_project_pending_workloads{project="a"} 2.0',
        "quotient_cluster_total_gpus 8.0",
        "quotient_cluster_allocated_gpus 1.5",
        "quotient_cluster_idle_gpus 6.5",
        "quotient_quota_generation 1.0",
    ]:
        assert line in text.splitlines(), line


def test_readyz_reports_ready_once_migrated(client: TestClient) -> None:
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.get("/healthz").json()["status"] == "ok"
