"""`report.html` of `quotient simulate --report`: the dashboard's pages over a run's timeline.

Owns turning a `SimulationResult` into the data document the dashboard's render.js draws
(the same sections as the live page: cluster totals, projects on one scale, allocated GPUs
per project over the run with fair share and deserved lines and evictions marked, time in
hours, the final workloads with reasons, the nodes' GPUs), and writing it with
`webui.assets.report_html`, which inlines plotly.js and the page's scripts so the file opens
from disk with no server. GPUs become numbers here and only here. It must not change
results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fairshare.resources import MILLI_PER_GPU, milli_to_float
from simulations.cluster import State
from simulations.recorder import WorkloadView
from simulations.result import SimulationResult
from webui.assets import report_html

Json = dict[str, Any]


def _n(milli: int | None) -> float | int:
    value = milli_to_float(milli or 0)
    return int(value) if value.is_integer() else value


def report_data(r: SimulationResult) -> Json:
    final = r.final
    return {
        "mode": "report",
        "title": f"{r.sim.name}: simulation report",
        "updated": (
            f"Simulated {r.sim.until / 3600:.2f} h in {r.cycles} scheduling cycles; "
            f"{len(r.evictions)} eviction(s); state at the end of the run"
        ),
        "cluster": {
            "total_gpus": _n(r.sim.capacity_milli),
            "allocated_gpus": _n(final.allocated_milli),
            "idle_gpus": _n(max(r.sim.capacity_milli - final.allocated_milli, 0)),
            "utilization": r.utilization,
            "pending": final.count(State.PENDING),
        },
        "projects": [_project(r, name) for name in final.projects],
        "departments": [
            {"name": d.name, "parent": d.parent, "deserved_gpus": _n(d.deserved_milli)}
            for _, d in sorted(r.sim.quota.departments.items())
        ],
        "workloads": [
            _workload(w, r.sim.until)
            for w in final.workloads.values()
            if w.state in (State.RUNNING, State.PENDING)
        ],
        "nodes": _nodes(r),
        "history": _history(r),
    }


def _project(r: SimulationResult, name: str) -> Json:
    p = r.final.projects[name]
    return {
        "name": name,
        "department": r.sim.quota.projects[name].department,
        "deserved_gpus": _n(p.deserved_milli),
        "fair_share_gpus": _n(p.fair_share_milli),
        "allocated_gpus": _n(p.allocated_milli),
        "demand_gpus": _n(p.demand_milli),
        "running": p.running,
        "pending": p.pending,
    }


def _workload(w: WorkloadView, until: int) -> Json:
    running = w.state == State.RUNNING
    since = (w.started_at if running else w.submit_at) or 0
    per_pod = w.request.whole * MILLI_PER_GPU or w.request.fraction_milli
    return {
        "name": w.name,
        "project": w.project,
        "type": str(w.type),
        "state": str(w.state),
        "pods": w.pods,
        "gpus_per_pod": None if w.request.memory_mib else _n(per_pod),
        "gpu_memory_mib_per_pod": w.request.memory_mib or None,
        "allocated_gpus": _n(w.gpu_milli),
        "nodes": sorted({a.node for a in w.assignments}),
        "age_seconds": max(until - since, 0),
        "reason": w.reason.code if w.reason and not running else None,
        "message": w.reason.message if w.reason and not running else None,
    }


def _nodes(r: SimulationResult) -> list[Json]:
    holders: dict[tuple[str, int], list[str]] = {}
    shared: set[tuple[str, int]] = set()
    for w in r.final.workloads.values():
        for a in w.assignments:
            for i in a.gpu_indices:
                holders.setdefault((a.node, i), []).append(w.name)
                if a.gpu_milli < MILLI_PER_GPU * len(a.gpu_indices):
                    shared.add((a.node, i))
    out = []
    for node in sorted(r.sim.nodes, key=lambda n: n.name):
        usage = r.final.gpu_usage.get(node.name, ())
        gpus = [
            {"index": i, "used_gpus": _n(min(milli, MILLI_PER_GPU)),
             "shared": (node.name, i) in shared,
             "workloads": sorted(holders.get((node.name, i), []))}
            for i, milli in enumerate(usage)
        ]
        out.append({"name": node.name, "pool": node.pool, "gpu_model": node.gpu_model,
                    "unschedulable": node.unschedulable, "gpus": gpus})
    return out


def _history(r: SimulationResult) -> Json:
    """Allocated and fair share per project at every instant either changed."""
    times = sorted({p.at for p in r.timeline} | {p.at for p in r.fair_timeline})
    alloc, fair = list(r.timeline), list(r.fair_timeline)
    points, ai, fi = [], -1, -1
    for at in times:
        while ai + 1 < len(alloc) and alloc[ai + 1].at <= at:
            ai += 1
        while fi + 1 < len(fair) and fair[fi + 1].at <= at:
            fi += 1
        a = alloc[ai].allocated_milli if ai >= 0 else {}
        f = fair[fi].fair_share_milli if fi >= 0 else {}
        points.append({"at": at, "allocated_gpus": {k: _n(v) for k, v in a.items()},
                       "fair_share_gpus": {k: _n(v) for k, v in f.items()}})
    evictions = [
        {"at": e.at, "workload": e.workload, "project": e.project, "code": str(e.reason),
         "message": e.message, "gpus": _n(e.gpu_milli)}
        for e in r.evictions
    ]
    return {"points": points, "evictions": evictions, "origin": 0, "end": r.sim.until,
            "capacity_gpus": _n(r.sim.capacity_milli)}


def write_html(r: SimulationResult, path: Path) -> None:
    path.write_text(report_html(report_data(r), f"{r.sim.name}: Quotient simulation"),
                    encoding="utf-8")
