"""What a dashboard needs beyond the per-project summary: nodes, workloads, evictions.

Owns turning one cycle's report and the cluster as read right after it into the optional
`nodes`, `workloads` and `evictions` parts of the PUT /api/v1/status body: every GPU of
every node with what it holds and whether it is shared by fractions, every running and
pending workload with its project, type, GPUs (a fraction stays a fraction), nodes and
times, and the evictions this cycle made. GPUs are exact decimal strings. It must not
decide, perform I/O or import `api`; `api_client.StatusReporter` sends what it builds.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fairshare.model import Node, RunningWorkload, Workload
from fairshare.resources import MILLI_PER_GPU, format_gpus
from scheduler.ports import ClusterState, CycleReport

Json = dict[str, Any]


def detail_body(report: CycleReport, state: ClusterState) -> Json:
    """The dashboard's part of a status report, from the cluster read after the cycle."""
    bound = {b.workload for b in report.result.bound}
    running = [r for r in state.running if not r.terminating]
    pending = [w for w in state.pending if w.name not in bound]
    return {
        "nodes": nodes_body(state.nodes, running, state),
        "workloads": [_running(r) for r in running] + [_pending(w) for w in pending],
        "evictions": [
            {
                "workload": e.workload,
                "project": e.project,
                "code": str(e.reason),
                "message": e.message,
                "gpus": format_gpus(sum(p.gpu_milli for p in e.pods)),
            }
            for e in report.result.evicted
        ],
    }


def nodes_body(
    nodes: tuple[Node, ...], running: list[RunningWorkload], state: ClusterState
) -> list[Json]:
    used: dict[tuple[str, int], int] = defaultdict(int)
    shared: set[tuple[str, int]] = set()
    holders: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in running:
        for a in r.assignments:
            if not a.gpu_indices:
                continue
            each = a.gpu_milli // len(a.gpu_indices)
            for index in a.gpu_indices:
                key = (a.node, index)
                used[key] += each
                holders[key].add(r.workload.name)
                if each < MILLI_PER_GPU:
                    shared.add(key)
    foreign = {f.node: f.gpus for f in state.foreign}
    return [
        {
            "name": n.name,
            "pool": n.pool,
            "gpu_model": n.gpu_model,
            "gpu_memory_mib": n.gpu_memory_mib,
            "unschedulable": n.unschedulable,
            "foreign_gpus": foreign.get(n.name, 0),
            "gpus": [
                {
                    "used_gpus": format_gpus(min(used[(n.name, i)], MILLI_PER_GPU)),
                    "shared": (n.name, i) in shared,
                    "workloads": sorted(holders[(n.name, i)]),
                }
                for i in range(n.gpu_count)
            ],
        }
        for n in nodes
    ]


def _request(w: Workload) -> Json:
    gpu = w.pods[0].gpu if w.pods else None
    if gpu is None:
        return {"gpus_per_pod": "0", "gpu_memory_mib_per_pod": None}
    if gpu.memory_mib:
        return {"gpus_per_pod": None, "gpu_memory_mib_per_pod": gpu.memory_mib}
    milli = gpu.fraction_milli or gpu.whole * MILLI_PER_GPU
    return {"gpus_per_pod": format_gpus(milli), "gpu_memory_mib_per_pod": None}


def _common(w: Workload) -> Json:
    return {
        "name": w.name,
        "project": w.project,
        "type": str(w.type),
        "pods": len(w.pods),
        "preemptible": w.is_preemptible,
        "submitted_at": max(w.submit_time, 0),
        **_request(w),
    }


def _running(r: RunningWorkload) -> Json:
    return {
        **_common(r.workload),
        "state": "running",
        "allocated_gpus": format_gpus(r.gpu_milli),
        "nodes": sorted({a.node for a in r.assignments}),
        "started_at": max(r.started_at, 0),
    }


def _pending(w: Workload) -> Json:
    return {
        **_common(w),
        "state": "pending",
        "allocated_gpus": "0",
        "nodes": [],
        "started_at": None,
    }
