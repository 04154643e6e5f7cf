"""From a validated scenario to the core's value types, plus what only the simulator needs.

Owns the mapping of scenario entries onto fairshare.model (Node, Workload, PodSpec,
GpuRequest, Policy) and fairshare.quota_tree (Project, Department, QuotaTree), and the
timing the simulator adds around a workload (submit, run time, deletion). Nodes get the
labels GPU feature discovery would give them, so a nodeSelector on the GPU model works as on
a real cluster. It must not validate relations (checks.py did) nor run anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from fairshare.model import (
    Constraints,
    Node,
    PodSpec,
    Policy,
    Taint,
    Toleration,
    Workload,
)
from fairshare.quota_tree import Department, Project, QuotaTree, QuotaTreeError
from fairshare.resources import MILLI_PER_GPU, gpus_to_milli, to_milli
from simulations.checks import gpu_request, node_names, pod_names
from simulations.scenario import (
    DepartmentSpec,
    Expectation,
    NodeSpec,
    Problem,
    ProjectSpec,
    Scenario,
    ScenarioError,
    WorkloadSpec,
)


@dataclass(frozen=True)
class TimedWorkload:
    workload: Workload
    submit_at: int
    duration: int | None = None  # run time once started; restarts after an eviction
    delete_at: int | None = None


@dataclass(frozen=True)
class SimulationInput:
    """Everything a run needs, in core types; built only from a checked scenario."""

    name: str
    source: str
    until: int
    nodes: tuple[Node, ...]
    quota: QuotaTree
    workloads: tuple[TimedWorkload, ...]
    policy: Policy = field(default_factory=Policy)
    cycle_seconds: int = 10
    seed: int | None = None
    expectations: tuple[Expectation, ...] = ()

    @property
    def capacity_milli(self) -> int:
        return sum(n.gpu_count for n in self.nodes) * MILLI_PER_GPU


def to_input(s: Scenario, source: str) -> SimulationInput:
    return SimulationInput(
        name=s.name,
        source=source,
        until=s.until,
        nodes=tuple(node for spec in s.cluster.nodes for node in to_nodes(spec)),
        quota=_quota_tree(s, source),
        workloads=tuple(to_timed(w) for w in s.workloads),
        policy=Policy(
            max_reclaim_milli_per_cycle=_opt_milli(s.policy.max_reclaim_gpus_per_cycle),
            min_runtime_seconds=s.policy.min_runtime_seconds,
            placement=s.policy.placement,
            reclaim=s.policy.reclaim,
            preempt=s.policy.preempt,
        ),
        cycle_seconds=s.policy.cycle_seconds,
        seed=s.seed,
        expectations=tuple(s.expect),
    )


def _opt_milli(value: Decimal | None) -> int | None:
    return None if value is None else gpus_to_milli(value)


def to_nodes(spec: NodeSpec) -> list[Node]:
    discovered = {"nvidia.com/gpu.count": str(spec.gpus)}
    if spec.gpu_model:
        discovered["nvidia.com/gpu.product"] = spec.gpu_model
    if spec.gpu_memory_mib:
        discovered["nvidia.com/gpu.memory"] = str(spec.gpu_memory_mib)
    return [
        Node(
            name=name,
            gpu_count=spec.gpus,
            gpu_memory_mib=spec.gpu_memory_mib,
            gpu_model=spec.gpu_model,
            cpu_milli=spec.cpu or 0,
            memory_bytes=spec.memory or 0,
            labels={"kubernetes.io/hostname": name, **discovered, **spec.labels},
            taints=tuple(Taint(t.key, t.value, t.effect) for t in spec.taints),
        )
        for name in node_names(spec)
    ]


def to_timed(w: WorkloadSpec) -> TimedWorkload:
    ask = gpu_request(w)
    pods = tuple(
        PodSpec(name=pod, gpu=ask, cpu_milli=w.cpu or 0, memory_bytes=w.memory or 0)
        for pod in pod_names(w)
    )
    workload = Workload(
        name=w.name,
        project=w.project,
        pods=pods,
        min_pods=w.min_pods or 0,
        type=w.type,
        preemptible=w.preemptible,
        priority=w.priority,
        submit_time=w.submit_at,
        constraints=Constraints(
            node_selector=dict(w.node_selector),
            tolerations=tuple(
                Toleration(t.key, t.operator, t.value, t.effect) for t in w.tolerations
            ),
        ),
    )
    return TimedWorkload(workload, w.submit_at, w.duration, w.delete_at)


def _project(p: ProjectSpec) -> Project:
    return Project(
        name=p.name,
        deserved_milli=gpus_to_milli(p.deserved_gpus),
        over_quota_weight_milli=_opt_weight(p.over_quota_weight),
        limit_milli=_opt_milli(p.limit_gpus),
        priority=p.priority,
        department=p.department,
        node_pools=tuple(p.node_pools),
        max_interactive_seconds=p.max_interactive_seconds,
        max_training_seconds=p.max_training_seconds,
    )


def _department(d: DepartmentSpec) -> Department:
    return Department(
        name=d.name,
        deserved_milli=gpus_to_milli(d.deserved_gpus),
        over_quota_weight_milli=_opt_weight(d.over_quota_weight),
        limit_milli=_opt_milli(d.limit_gpus),
        priority=d.priority,
        parent=d.parent,
    )


def _opt_weight(value: Decimal | None) -> int | None:
    return None if value is None else to_milli(value, "over_quota_weight")


def _quota_tree(s: Scenario, source: str) -> QuotaTree:
    try:
        return QuotaTree.build(
            [_project(p) for p in s.projects], [_department(d) for d in s.departments]
        )
    except QuotaTreeError as e:  # what checks.py cannot see alone: a department cycle
        index = next((i for i, d in enumerate(s.departments) if d.name == e.entry), None)
        entry = f"departments[{index}] ({e.entry})" if index is not None else e.entry
        raise ScenarioError(source, [Problem(entry, e.reason)]) from None
