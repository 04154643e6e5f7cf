"""Table rows for one `decide` call, and the check every such table runs.

Owns the shape of a cycle case (snapshot, policy, expected placements, pending reasons and
evictions), the `run` builder for running workloads, and `check_plan`. It must not hold
cases: test_decide.py and test_room.py do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fairshare.decide import decide
from fairshare.model import (
    CyclePlan,
    PodAssignment,
    Policy,
    ReasonCode,
    RunningWorkload,
    Snapshot,
    Workload,
)


@dataclass
class Case:
    snap: Snapshot
    policy: Policy = field(default_factory=Policy)
    placed_on: dict[str, str] = field(default_factory=dict)  # workload -> node
    pending: dict[str, tuple[ReasonCode, str]] = field(default_factory=dict)  # code, in message
    evicted: dict[str, ReasonCode] = field(default_factory=dict)


def run(r: Workload, on: str, at: int = 0, gpus: tuple[int, ...] | None = None) -> RunningWorkload:
    """A running workload whose pods sit on one node (whole GPUs from index 0, or `gpus`)."""
    out, nxt = [], 0
    for p in r.pods:
        if p.gpu.is_fractional:
            idx: tuple[int, ...] = gpus or (0,)
            milli = p.gpu.fraction_milli
        else:
            idx = gpus or tuple(range(nxt, nxt + p.gpu.whole))
            nxt += p.gpu.whole
            milli = p.gpu.whole * 1000
        out.append(PodAssignment(p.name, on, idx, milli, None, p.cpu_milli, p.memory_bytes))
    return RunningWorkload(r, tuple(out), at)


def check_plan(case: Case) -> CyclePlan:
    """Decide the case and hold the plan to its expected placements, reasons and evictions."""
    plan = decide(case.snap, case.policy)
    placed = {b.workload: b.assignment.node for b in plan.bindings}
    assert {k: placed.get(k) for k in case.placed_on} == case.placed_on
    for name, (code, text) in case.pending.items():
        assert name in plan.pending, f"{name} should be pending; plan: {plan.pending}"
        assert plan.pending[name].code == code, plan.pending[name]
        assert text in plan.pending[name].message, plan.pending[name].message
    assert {e.workload: e.reason for e in plan.evictions} == case.evicted
    return plan
