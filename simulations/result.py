"""The result of a run, and its JSON document (DESIGN §2, `quotient simulate --json`).

Owns the `SimulationResult` value and the one mapping from it to the document: final
per-project and per-workload state, per-GPU load, totals (evictions, time-averaged
utilisation), the allocation timeline, the eviction log, refused bindings and the
expectation checks. GPUs are counted in milli-GPUs everywhere and turned into numbers only
here, with fairshare.resources.milli_to_float. Keys are sorted and nothing depends on the
wall clock or the file's directory, so the same file gives a bit-identical document. It
must not run or print anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fairshare.model import GpuRequest, PodAssignment
from fairshare.resources import milli_to_float
from simulations.cluster import EvictionRecord
from simulations.convert import SimulationInput
from simulations.expectations import CheckResult
from simulations.recorder import (
    BindingEntry,
    ClusterView,
    EvictionEntry,
    ProjectView,
    RefusedBinding,
    TimelinePoint,
    WorkloadView,
    utilization,
)

Json = dict[str, object]


@dataclass(frozen=True)
class SimulationResult:
    sim: SimulationInput
    final: ClusterView
    timeline: tuple[TimelinePoint, ...]
    evictions: tuple[EvictionRecord, ...]
    refused: tuple[RefusedBinding, ...]
    checks: tuple[CheckResult, ...]
    cycles: int
    eviction_log: tuple[EvictionEntry, ...] = ()
    bindings: tuple[BindingEntry, ...] = ()

    @property
    def utilization(self) -> float:
        return utilization(self.timeline, self.sim.capacity_milli, self.sim.until)

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failed_checks


def to_document(r: SimulationResult) -> Json:
    return {
        "scenario": _scenario(r.sim),
        "final": {
            "at": r.final.at,
            "projects": {n: _project(p) for n, p in r.final.projects.items()},
            "workloads": {n: _workload(w) for n, w in r.final.workloads.items()},
            "nodes": {
                node: {"gpus": [milli_to_float(m) for m in gpus]}
                for node, gpus in r.final.gpu_usage.items()
            },
        },
        "totals": {
            "capacity_gpus": milli_to_float(r.sim.capacity_milli),
            "allocated_gpus": milli_to_float(r.final.allocated_milli),
            "evictions": len(r.evictions),
            "gpu_utilization": r.utilization,
            "cycles": r.cycles,
            "refused_bindings": len(r.refused),
        },
        "timeline": [_point(p) for p in r.timeline],
        "evictions": [_eviction(e) for e in r.eviction_log],
        "bindings": [_binding(b) for b in r.bindings],
        "refused_bindings": [{"t": x.at, "pod": x.pod, "error": x.error} for x in r.refused],
        "expectations": {
            "passed": r.passed,
            "total": len(r.checks),
            "failed": len(r.failed_checks),
            "checks": [_check(c) for c in r.checks],
        },
    }


def dumps(r: SimulationResult) -> str:
    return json.dumps(to_document(r), indent=2, sort_keys=True) + "\n"


def write_json(r: SimulationResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(r), encoding="utf-8")


def _scenario(sim: SimulationInput) -> Json:
    p = sim.policy
    reclaim_budget = p.max_reclaim_milli_per_cycle
    return {
        "name": sim.name,
        "file": Path(sim.source).name,
        "seed": sim.seed,
        "until": sim.until,
        "policy": {
            "cycle_seconds": sim.cycle_seconds,
            "min_runtime_seconds": p.min_runtime_seconds,
            "placement": p.placement,
            "max_reclaim_gpus_per_cycle": (
                None if reclaim_budget is None else milli_to_float(reclaim_budget)
            ),
            "reclaim": p.reclaim,
            "preempt": p.preempt,
        },
    }


def _opt_gpus(milli: int | None) -> float | None:
    return None if milli is None else milli_to_float(milli)


def _project(p: ProjectView) -> Json:
    return {
        "deserved_gpus": milli_to_float(p.deserved_milli),
        "fair_share_gpus": _opt_gpus(p.fair_share_milli),
        "demand_gpus": _opt_gpus(p.demand_milli),
        "allocated_gpus": milli_to_float(p.allocated_milli),
        "running": p.running,
        "pending": p.pending,
    }


def _request(ask: GpuRequest, pods: int) -> Json:
    out: Json = {"pods": pods}
    if ask.whole:
        out["gpus"] = ask.whole
    elif ask.fraction_milli:
        out["gpu_fraction"] = milli_to_float(ask.fraction_milli)
    elif ask.memory_mib:
        out["gpu_memory_mib"] = ask.memory_mib
    return out


def _workload(w: WorkloadView) -> Json:
    return {
        "project": w.project,
        "type": w.type.value,
        "preemptible": w.preemptible,
        "state": w.state.value,
        "request": _request(w.request, w.pods),
        "node": w.node,
        "gpus": milli_to_float(w.gpu_milli),
        "gpu_memory_limit_mib": w.gpu_memory_limit_mib,
        "reason": None
        if w.reason is None
        else {"code": w.reason.code, "message": w.reason.message},
        "submit_at": w.submit_at,
        "started_at": w.started_at,
        "ended_at": w.ended_at,
        "evictions": w.evictions,
        "pods": [_pod(a) for a in w.assignments],
    }


def _point(p: TimelinePoint) -> Json:
    return {
        "t": p.at,
        "allocated_gpus": {name: milli_to_float(m) for name, m in p.allocated_milli.items()},
        "total_gpus": milli_to_float(p.total_milli),
    }


def _eviction(e: EvictionEntry) -> Json:
    return {
        "t": e.at,
        "cycle": e.cycle,
        "workload": e.workload,
        "project": e.project,
        "type": e.type.value,
        "gpus": milli_to_float(e.gpu_milli),
        "reason": e.reason.value,
        "kind": e.kind,
        "by": e.by,
        "message": e.message,
    }


def _pod(a: PodAssignment) -> Json:
    return {
        "pod": a.pod,
        "node": a.node,
        "gpu_indices": list(a.gpu_indices),
        "gpus": milli_to_float(a.gpu_milli),
        "gpu_memory_limit_mib": a.gpu_memory_limit_mib,
    }


def _binding(b: BindingEntry) -> Json:
    return {
        "t": b.at,
        "cycle": b.cycle,
        "workload": b.workload,
        "project": b.project,
        "gpus": milli_to_float(sum(a.gpu_milli for a in b.pods)),
        "pods": [_pod(a) for a in b.pods],
    }


def _check(c: CheckResult) -> Json:
    return {
        "entry": c.entry,
        "when": c.when,
        "check": c.check,
        "expected": c.expected,
        "actual": c.actual,
        "passed": c.passed,
        "detail": c.detail or None,
        "message": c.message,
    }
