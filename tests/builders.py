"""Builders for core value types: short, readable tests with sensible defaults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fairshare.model import (
    Binding,
    Constraints,
    CyclePlan,
    GpuRequest,
    Node,
    PodSpec,
    RunningWorkload,
    Snapshot,
    Taint,
    Workload,
    WorkloadType,
)
from fairshare.quota_tree import Department, Project, QuotaTree
from fairshare.resources import gpus_to_milli

GiB = 1 << 30


def node(
    name: str,
    gpus: int = 8,
    *,
    memory_mib: int = 32768,
    cpu: int = 64_000,
    mem: int = 512 * GiB,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Taint] = (),
    unschedulable: bool = False,
) -> Node:
    return Node(
        name, gpus, memory_mib, "V100", cpu, mem, dict(labels or {}), tuple(taints), unschedulable
    )


def nodes(prefix: str, count: int, gpus: int = 8, **kw: object) -> tuple[Node, ...]:
    return tuple(node(f"{prefix}-{i}", gpus, **kw) for i in range(1, count + 1))  # type: ignore[arg-type]


def project(
    name: str,
    deserved: float | str = 0,
    *,
    weight: float | str | None = None,
    limit: float | str | None = None,
    priority: int = 0,
    department: str | None = None,
    pools: tuple[str, ...] = (),
    max_interactive: int | None = None,
    max_training: int | None = None,
) -> Project:
    return Project(
        name,
        gpus_to_milli(deserved),
        None if weight is None else gpus_to_milli(weight),
        None if limit is None else gpus_to_milli(limit),
        priority,
        department,
        pools,
        max_interactive,
        max_training,
    )


def department(
    name: str,
    deserved: float | str = 0,
    *,
    limit: float | str | None = None,
    weight: float | str | None = None,
    parent: str | None = None,
) -> Department:
    return Department(
        name,
        gpus_to_milli(deserved),
        None if weight is None else gpus_to_milli(weight),
        None if limit is None else gpus_to_milli(limit),
        0,
        parent,
    )


def tree(*projects: Project, departments: Iterable[Department] = ()) -> QuotaTree:
    return QuotaTree.build(projects, departments)


def workload(
    name: str,
    project: str,
    gpus: int = 0,
    *,
    fraction: float | str | None = None,
    memory_mib: int = 0,
    pods: int = 1,
    type: str = "train",
    priority: int = 0,
    preemptible: bool | None = None,
    submit: int = 0,
    cpu: int = 0,
    mem: int = 0,
    constraints: Constraints | None = None,
    invalid: str | None = None,
) -> Workload:
    request = GpuRequest(
        whole=gpus,
        fraction_milli=gpus_to_milli(fraction) if fraction else 0,
        memory_mib=memory_mib,
    )
    names = [name] if pods == 1 else [f"{name}-{i}" for i in range(pods)]
    return Workload(
        name,
        project,
        tuple(PodSpec(n, request, cpu, mem) for n in names),
        0,
        WorkloadType(type),
        preemptible,
        priority,
        submit,
        constraints or Constraints(),
        invalid,
    )


def snapshot(
    nodes: Iterable[Node],
    quota: QuotaTree,
    *,
    pending: Iterable[Workload] = (),
    running: Iterable[RunningWorkload] = (),
    now: int = 0,
) -> Snapshot:
    return Snapshot(tuple(nodes), quota, tuple(running), tuple(pending), (), now)


def apply(snap: Snapshot, plan: CyclePlan, now: int | None = None) -> Snapshot:
    """The state a plan leaves: bound workloads run, evicted ones wait again (as a
    controller recreates them), run-time-limited ones are gone."""
    t = snap.now if now is None else now
    by_workload: dict[str, list[Binding]] = {}
    for b in plan.bindings:
        by_workload.setdefault(b.workload, []).append(b)
    evicted = {e.workload: e for e in plan.evictions}
    running = [r for r in snap.running if r.workload.name not in evicted]
    pending = [w for w in snap.pending if w.name not in by_workload]
    for w in snap.pending:
        if w.name in by_workload:
            running.append(RunningWorkload(w, tuple(b.assignment for b in by_workload[w.name]), t))
    for r in snap.running:
        e = evicted.get(r.workload.name)
        if e is not None and e.reason != "RunTimeLimitExceeded":
            pending.append(r.workload)
    return Snapshot(
        snap.nodes,
        snap.quota,
        tuple(running),
        tuple(pending),
        snap.foreign,
        t,
        dict(plan.nominated),
    )


def allocated(plan: CyclePlan) -> dict[str, float]:
    return {n: p.allocated_milli / 1000 for n, p in plan.projects.items()}


def settle(
    snap: Snapshot, policy: object = None, *, max_cycles: int = 50, step: int = 10
) -> tuple[Snapshot, list[CyclePlan]]:
    """Run cycles, applying each plan, until one binds and evicts nothing."""
    from fairshare.decide import decide
    from fairshare.model import Policy

    plans: list[CyclePlan] = []
    for _ in range(max_cycles):
        plan = decide(snap, policy if isinstance(policy, Policy) else None)
        plans.append(plan)
        if not plan.bindings and not plan.evictions:
            return snap, plans
        snap = apply(snap, plan, snap.now + step)
    raise AssertionError(f"no fixed point after {max_cycles} cycles")


def held(snap: Snapshot) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in snap.running:
        out[r.workload.project] = out.get(r.workload.project, 0) + r.gpu_milli / 1000
    return out
