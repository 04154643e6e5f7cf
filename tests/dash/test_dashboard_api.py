"""The dashboard's reads: a scheduler's report with detail in, nodes/workloads/history out.

The reporter's real body goes through the API (StatusReporter over the app's TestClient),
so the wire shapes on both sides are checked against each other. History keeps one point
per change, bounded; the ETag changes with every report and answers 304 otherwise; a
report without detail (an older scheduler) is still accepted; viewers read, nobody else.
Runs on SQLite (the store keeps everything in the status row's JSON, as on PostgreSQL).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")  # as tests/api does: httpx on purpose
from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.store import dashboard  # noqa: E402
from fairshare.model import CyclePlan, PendingReason, PodAssignment, ProjectSummary, ReasonCode  # noqa: E402
from fairshare.model import RunningWorkload as Running  # noqa: E402
from scheduler.api_client import StatusReporter  # noqa: E402
from scheduler.ports import ClusterState, CycleReport, ExecutionResult  # noqa: E402
from tests.builders import node, workload  # noqa: E402

TOKENS = (
    "admin:admin-token-0123456789,viewer:viewer-token-0123456789,"
    "scheduler:sched-token-0123456789"
)
VIEWER = {"Authorization": "Bearer viewer-token-0123456789"}
SCHEDULER = {"Authorization": "Bearer sched-token-0123456789"}


def _client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=data_dir, tokens=TOKENS))
    with TestClient(app) as c:
        c.post("/api/v1/projects", json={"name": "a", "deserved_gpus": 2},
               headers={"Authorization": "Bearer admin-token-0123456789"})
        yield c


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path)


@pytest.fixture(scope="module")
def reads_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the tests that change nothing."""
    yield from _client(tmp_path_factory.mktemp("reads"))


class Cluster:
    """Our own ClusterSource port, holding what the reporter should describe."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state

    def cluster_state(self) -> ClusterState:
        return self.state


def plan(allocated_milli: int, fair_milli: int = 2000) -> CyclePlan:
    summary = ProjectSummary("a", 2000, fair_milli, allocated_milli, 1, 1, 3000)
    reason = PendingReason(ReasonCode.OVER_FAIR_SHARE, "a is at its fair share", "a")
    return CyclePlan(pending={"wait": reason}, projects={"a": summary}, capacity_milli=4000)


def report(client: TestClient, at: int, allocated_milli: int = 1500) -> None:
    w = workload("run", "a", fraction="0.5", type="interactive")
    held = Running(w, (PodAssignment("run", "n1", (0,), 500),), started_at=10)
    state = ClusterState(nodes=(node("n1", 4),), running=(held,),
                         pending=(workload("wait", "a", 2, submit=5),))
    scheduler = TestClient(client.app, headers=SCHEDULER)
    reporter = StatusReporter(client=scheduler, cluster=Cluster(state))
    reporter.on_cycle(CycleReport(at, plan(allocated_milli), ExecutionResult()))
    assert reporter.failures == 0


def test_nodes_and_workloads_come_back_as_the_scheduler_saw_them(client: TestClient) -> None:
    report(client, at=100)
    nodes = client.get("/api/v1/nodes", headers=VIEWER).json()["nodes"]
    assert [g["used_gpus"] for g in nodes[0]["gpus"]] == [0.5, 0, 0, 0]
    assert nodes[0]["gpus"][0] == {"index": 0, "used_gpus": 0.5, "shared": True,
                                   "workloads": ["run"]}
    listed = {w["name"]: w for w in client.get("/api/v1/workloads", headers=VIEWER).json()[
        "workloads"]}
    assert listed["run"]["gpus_per_pod"] == 0.5 and listed["run"]["age_seconds"] == 90
    assert listed["wait"]["reason"] == "OverFairShare"
    assert listed["wait"]["message"] == "a is at its fair share"
    assert listed["wait"]["age_seconds"] == 95
    only = client.get("/api/v1/workloads?project=nobody", headers=VIEWER).json()
    assert only["workloads"] == []


def test_history_keeps_one_point_per_change(client: TestClient) -> None:
    for at, allocated in ((100, 1000), (110, 1000), (120, 1500), (120, 2000)):
        report(client, at, allocated)
    points = client.get("/api/v1/history", headers=VIEWER).json()["points"]
    assert [(p["at"], p["allocated_gpus"]["a"]) for p in points] == [(100, 1), (120, 2)]


def test_the_etag_changes_with_each_report_and_304_otherwise(client: TestClient) -> None:
    report(client, at=100)
    first = client.get("/api/v1/history", headers=VIEWER)
    again = client.get("/api/v1/history", headers={**VIEWER, "If-None-Match": first.headers[
        "ETag"]})
    assert again.status_code == 304
    report(client, at=110)
    later = client.get("/api/v1/history", headers={**VIEWER, "If-None-Match": first.headers[
        "ETag"]})
    assert later.status_code == 200 and later.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (SCHEDULER, 403), (VIEWER, 200)],
    ids=["no token: 401", "the scheduler's token: 403", "a viewer reads"],
)
@pytest.mark.parametrize("path", ["/api/v1/nodes", "/api/v1/workloads", "/api/v1/history"])
def test_only_readers_read(reads_only: TestClient, path: str, headers: dict[str, str],
                           status: int) -> None:
    assert reads_only.get(path, headers=headers).status_code == status


def test_a_report_without_detail_is_still_accepted(client: TestClient) -> None:
    body: dict[str, Any] = {"cycle_at": 5, "capacity_gpus": 4, "projects": [], "pending": []}
    assert client.put("/api/v1/status", json=body, headers=SCHEDULER).status_code == 204
    assert client.get("/api/v1/nodes", headers=VIEWER).json()["nodes"] == []
    assert client.get("/api/v1/history", headers=VIEWER).json()["points"][0]["at"] == 5


def test_history_is_bounded() -> None:
    from api.schemas_status import StatusReportIn

    body: dict[str, Any] | None = None
    for at in range(dashboard.MAX_HISTORY_POINTS + 50):
        usage = {"name": "a", "deserved_gpus": 1, "fair_share_gpus": 1,
                 "allocated_gpus": at % 2, "running": 0, "pending": 0}
        r = StatusReportIn.model_validate({"cycle_at": at, "capacity_gpus": 1,
                                           "projects": [usage]})
        body = dashboard.carry(body, r)
    assert body is not None and len(body["history"]) == dashboard.MAX_HISTORY_POINTS
    assert body["history"][-1]["at"] == dashboard.MAX_HISTORY_POINTS + 49


def test_the_page_and_its_files_are_served_with_a_policy_that_allows_only_this_app(
    reads_only: TestClient,
) -> None:
    client = reads_only
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ("render.js", "chart.js", "live.js", "style.css", "plotly.min.js"):
        assert client.get(f"/ui/{name}").status_code == 200, name
    assert client.get("/ui/secrets.txt").status_code == 404
    assert "http" not in client.get("/").text.replace("http-equiv", "")
