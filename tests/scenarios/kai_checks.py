"""Checks a `CyclePlan` against a KAI case's expected outcome per job (and per pod).

Owns the reading of KAI's end states in Quotient's terms (see `kai_tables` for the mapping);
it must not build snapshots nor decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from fairshare.decide import decide
from fairshare.model import CyclePlan, PodAssignment, RunningWorkload, Snapshot
from tests.builders import apply
from tests.scenarios.kai_tables import KaiCase, Outcome


def mismatches(case: KaiCase, snap: Snapshot, plan: CyclePlan) -> list[str]:
    """Every way the plan departs from the case's expected outcomes (empty: it agrees)."""
    was_running = {r.workload.name: r for r in snap.running}
    pods_of = {w.name: [p.name for p in w.pods] for w in snap.pending}
    pods_of.update({n: [a.pod for a in r.assignments] for n, r in was_running.items()})
    bound = {b.assignment.pod: b.assignment for b in plan.bindings}
    evicted = {e.workload for e in plan.evictions}
    where: dict[str, PodAssignment] = {a.pod: a for r in snap.running for a in r.assignments}
    where.update(bound)
    out: list[str] = []
    shared: dict[str, tuple[str, tuple[int, ...]]] = {}  # node#group -> GPU
    expected = [(job, pods_of.get(job, []), o) for job, o in case.expect.items()]
    for pod, o in case.expect_tasks.items():
        job = next((j for j, pods in pods_of.items() if pod in pods), None)
        if job is None:
            if pod not in case.ignore:
                out.append(f"{pod}: no such pod in the case")
            continue
        expected.append((job, [pod], o))
    for job, pods, o in expected:
        if not pods:
            out.append(f"{job}: no such job in the case")
            continue
        got = _state(job, pods, was_running, bound, evicted, plan)
        terminating = job in was_running and was_running[job].terminating
        # A job already releasing stays so: kept as it is, not evicted a second time.
        want = (
            "kept"
            if terminating and o.state == "releasing"
            else _wanted(o.state, job in was_running)
        )
        if got != want:
            out.append(f"{job}: expected {o.state}, plan says {got}")
            continue
        out += _where(job, pods, o, got, where, plan, shared)
    return out


def _wanted(state: str, running: bool) -> str:
    if running:
        return {"running": "kept", "binding": "kept", "pipelined": "evicted"}.get(state, "evicted")
    return {"running": "bound", "binding": "bound", "pipelined": "nominated"}.get(state, "pending")


def _state(
    job: str,
    pods: list[str],
    was_running: Mapping[str, RunningWorkload],
    bound: Mapping[str, PodAssignment],
    evicted: set[str],
    plan: CyclePlan,
) -> str:
    if job in was_running:
        return "evicted" if job in evicted else "kept"
    if all(p in bound for p in pods):
        return "bound"
    if any(p in bound for p in pods):
        return "partly bound"
    return "nominated" if job in plan.nominated else "pending"


def _where(
    job: str,
    pods: list[str],
    o: Outcome,
    got: str,
    where: Mapping[str, PodAssignment],
    plan: CyclePlan,
    shared: dict[str, tuple[str, tuple[int, ...]]],
) -> list[str]:
    out: list[str] = []
    if o.node and got == "nominated" and o.node not in plan.nominated[job]:
        out.append(f"{job}: expected to wait for room on {o.node}, waits on {plan.nominated[job]}")
    if got in {"kept", "bound"}:
        for p in pods:
            a = where[p]
            if o.node and a.node != o.node:
                out.append(f"{p}: expected on {o.node}, is on {a.node}")
            if o.group and a.gpu_indices:  # KAI names shared GPUs per node
                gpu, label = (a.node, a.gpu_indices), f"{a.node}#{o.group}"
                if shared.setdefault(label, gpu) != gpu:
                    out.append(f"{p}: expected on the GPU of {label} {shared[label]}, is on {gpu}")
    return out


# ------------------------------------------------------------------- settled state


def settled_mismatches(case: KaiCase, final: Snapshot) -> list[str]:
    """How the state cycles settle in departs from KAI's state after its rounds."""
    running = {r.workload.name: r for r in final.running}
    pending = {w.name for w in final.pending}
    out: list[str] = []
    shared: dict[str, tuple[str, tuple[int, ...]]] = {}
    for job, o in sorted(case.expect.items()):
        r = running.get(job)
        got = "pending" if job in pending else "missing" if r is None else _run_state(r)
        want = {"binding": "running", "pipelined": "pending"}.get(o.state, o.state)
        if got != want:
            out.append(f"{job}: expected {o.state}, settles {got}")
        elif r is not None:
            out += _where(
                job,
                [a.pod for a in r.assignments],
                o,
                "kept",
                {a.pod: a for a in r.assignments},
                CyclePlan(),
                shared,
            )
    known = {p.name for w in final.pending for p in w.pods}
    known |= {a.pod for r in final.running for a in r.assignments}
    for pod, o in sorted(case.expect_tasks.items()):
        if pod not in known:
            out += [] if pod in case.ignore else [f"{pod}: no such pod in the case"]
            continue
        owner = next((r for r in final.running if any(a.pod == pod for a in r.assignments)), None)
        got = "pending" if owner is None else _run_state(owner)
        if got != {"binding": "running", "pipelined": "pending"}.get(o.state, o.state):
            out.append(f"{pod}: expected {o.state}, settles {got}")
    return out + _node_mismatches(case, final)


def _run_state(r: RunningWorkload) -> str:
    return "releasing" if r.terminating else "running"


def _node_mismatches(case: KaiCase, final: Snapshot) -> list[str]:
    """KAI's idle and releasing GPUs per node: a GPU is releasing while only terminating pods
    hold it, idle when nothing does."""
    out = []
    for node, want in (case.raw.get("expect_nodes") or {}).items():
        live: set[int] = set()
        dying: set[int] = set()
        for r in final.running:
            for a in r.assignments:
                if a.node == node:
                    (dying if r.terminating else live).update(a.gpu_indices)
        count = next(n.gpu_count for n in final.nodes if n.name == node)
        got = {"releasing": len(dying - live), "idle": count - len(dying | live)}
        if got != want:
            out.append(f"node {node}: expected {want}, settles {got}")
    return out


def settle_as_kai(case: KaiCase, snap: Snapshot, max_cycles: int = 50) -> Snapshot:
    """Cycles until one binds and evicts nothing, as KAI's rounds: after each round a releasing
    pod is gone and its job waits again, unless the test deletes the job (then it stays
    releasing). Raises if the cycles never settle."""
    deleted = {j["name"] for j in case.raw.get("jobs") or [] if j.get("deleted")}
    for _ in range(max_cycles):
        plan = decide(snap, case.policy)
        gone = [r for r in snap.running if r.terminating and r.workload.name not in deleted]
        if not plan.bindings and not plan.evictions and not gone:
            return snap
        snap = apply(snap, plan, snap.now + 10)
        snap = replace(
            snap,
            running=tuple(r for r in snap.running if r not in gone),
            pending=snap.pending + tuple(r.workload for r in gone),
        )
    raise AssertionError(f"no fixed point after {max_cycles} cycles")
