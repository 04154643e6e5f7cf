"""What the scheduler's reporter adds for the dashboard: nodes, workloads, evictions.

A table of clusters and what each must report: whole GPUs are full, fractions mark their
GPU shared and add up on it, a gang lists every node it spans, a pending workload keeps its
request (a fraction stays a fraction, GPU memory stays MiB), and each eviction of the
cycle is listed with its GPUs.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fairshare.model import CyclePlan, Eviction, PodAssignment, ReasonCode, RunningWorkload
from scheduler.api_client import StatusReporter
from scheduler.ports import ClusterState, CycleReport, ExecutionResult
from scheduler.status_detail import detail_body
from tests.builders import node, workload


def running(name: str, project: str, *pods: tuple[str, tuple[int, ...], int]) -> RunningWorkload:
    w = workload(name, project, gpus=1, pods=len(pods))
    assignments = tuple(
        PodAssignment(pod=p.name, node=n, gpu_indices=idx, gpu_milli=milli)
        for p, (n, idx, milli) in zip(w.pods, pods, strict=True)
    )
    return RunningWorkload(w, assignments, started_at=100)


def body(*run: RunningWorkload, pending: tuple[Any, ...] = (), evicted: tuple[Eviction, ...] = (),
         at: int = 400) -> dict[str, Any]:
    state = ClusterState(nodes=(node("n1", 2), node("n2", 2)), running=run, pending=pending)
    report = CycleReport(at=at, plan=CyclePlan(), result=ExecutionResult(evicted=evicted))
    return detail_body(report, state)


def gpu(b: dict[str, Any], node_name: str, index: int) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in b["nodes"] if n["name"] == node_name)["gpus"][index]
    return found


CASES = [
    pytest.param(
        (running("w", "a", ("n1", (0, 1), 2000)),),
        ("n1", 0, {"used_gpus": "1", "shared": False, "workloads": ["w"]}),
        id="a whole-GPU pod fills each of its GPUs",
    ),
    pytest.param(
        (running("f1", "a", ("n2", (1,), 500)), running("f2", "b", ("n2", (1,), 250))),
        ("n2", 1, {"used_gpus": "0.75", "shared": True, "workloads": ["f1", "f2"]}),
        id="two fractions on one GPU add up and mark it shared",
    ),
    pytest.param(
        (running("f1", "a", ("n2", (1,), 500)),),
        ("n1", 0, {"used_gpus": "0", "shared": False, "workloads": []}),
        id="an idle GPU is listed empty",
    ),
]


@pytest.mark.parametrize(("run", "expected"), CASES)
def test_each_gpu_reports_its_load(
    run: tuple[RunningWorkload, ...], expected: tuple[str, int, dict[str, Any]]
) -> None:
    node_name, index, want = expected
    assert gpu(body(*run), node_name, index) == want


def test_a_gang_lists_every_node_it_spans_and_its_age_starts_when_it_started() -> None:
    gang = running("g", "a", ("n1", (0,), 1000), ("n2", (0,), 1000))
    [listed] = body(gang)["workloads"]
    assert listed["nodes"] == ["n1", "n2"] and listed["pods"] == 2
    assert listed["allocated_gpus"] == "2" and listed["started_at"] == 100
    assert listed["state"] == "running" and listed["preemptible"] is True


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        (workload("p", "a", fraction="0.3", type="interactive"),
         {"gpus_per_pod": "0.3", "gpu_memory_mib_per_pod": None, "preemptible": False}),
        (workload("p", "a", memory_mib=8000),
         {"gpus_per_pod": None, "gpu_memory_mib_per_pod": 8000}),
        (workload("p", "a", 4, pods=2, submit=50),
         {"gpus_per_pod": "4", "pods": 2, "submitted_at": 50, "started_at": None}),
    ],
    ids=["a fraction stays a fraction", "GPU memory stays in MiB", "a pending gang keeps its size"],
)
def test_a_pending_workload_keeps_its_request(pending: Any, expected: dict[str, Any]) -> None:
    [listed] = body(pending=(pending,))["workloads"]
    assert listed["state"] == "pending" and listed["nodes"] == []
    assert {k: listed[k] for k in expected} == expected


def test_the_cycle_evictions_are_listed_with_their_gpus() -> None:
    victim = running("v", "b", ("n1", (0, 1), 2000))
    eviction = Eviction("v", "b", victim.assignments, ReasonCode.RECLAIMED, "reclaimed by a")
    assert body(evicted=(eviction,))["evictions"] == [
        {"workload": "v", "project": "b", "code": str(ReasonCode.RECLAIMED),
         "message": "reclaimed by a", "gpus": "2"}
    ]



@pytest.mark.parametrize(
    ("limit_detail", "sent"),
    [(False, [True]), (True, [True, False])],
    ids=["the detail rides with the summary", "a 413 for the detail still sends the summary"],
)
def test_the_reporter_sends_the_detail_and_falls_back_to_the_summary(
    limit_detail: bool, sent: list[bool]
) -> None:
    bodies: list[dict[str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        """PUT /status of an API whose body limit is below the detail's size."""
        bodies.append(json.loads(request.content))
        return httpx.Response(413 if limit_detail and "nodes" in bodies[-1] else 204)

    class Source:
        def cluster_state(self) -> ClusterState:
            return ClusterState(nodes=(node("n1", 1),))

    http = httpx.Client(transport=httpx.MockTransport(api), base_url="http://api")
    reporter = StatusReporter(client=http, cluster=Source())
    reporter.on_cycle(CycleReport(at=1, plan=CyclePlan(), result=ExecutionResult()))
    assert ["nodes" in b for b in bodies] == sent
    assert reporter.failures == 0
