"""The metrics recorder: what happened during a run, and what the cluster looks like now.

Owns the loop observer that remembers each cycle's plan (fair shares, pending reasons) and
the bindings the cluster refused, the timeline of GPUs allocated per project (one point per
change, read from the cluster's truth, not from the plan), the time-averaged utilisation,
and `ClusterView`, the read-only picture expectations and the result are built from. It
must not change the cluster or decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fairshare.model import CyclePlan, GpuRequest, PodAssignment, ReasonCode, WorkloadType
from fairshare.quota_tree import QuotaTree
from scheduler.ports import CycleReport
from simulations.cluster import InMemoryCluster, State, WorkloadRecord

BINDING_REFUSED = "BindingRefused"  # the simulator's own code: the cluster refused a binding


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class RefusedBinding:
    at: int
    pod: str
    error: str


@dataclass(frozen=True)
class EvictionEntry:
    """One eviction as the executor carried it out, for `evictions[]`."""

    at: int
    cycle: int
    workload: str
    project: str
    type: WorkloadType
    gpu_milli: int
    reason: ReasonCode
    kind: str  # reclaim | preempt | move | run-time-limit
    by: str | None  # the pending workload it made room for
    message: str


@dataclass(frozen=True)
class BindingEntry:
    """One workload bound (all its pods), for `bindings[]`."""

    at: int
    cycle: int
    workload: str
    project: str
    pods: tuple[PodAssignment, ...]


@dataclass(frozen=True)
class TimelinePoint:
    at: int
    allocated_milli: Mapping[str, int]  # project -> milli-GPUs held from `at` on

    @property
    def total_milli(self) -> int:
        return sum(self.allocated_milli.values())


@dataclass(frozen=True)
class ProjectView:
    name: str
    deserved_milli: int
    fair_share_milli: int | None  # None until a cycle has divided
    demand_milli: int | None
    allocated_milli: int
    running: int
    pending: int


@dataclass(frozen=True)
class WorkloadView:
    name: str
    project: str
    type: WorkloadType
    preemptible: bool
    state: State
    request: GpuRequest
    pods: int
    submit_at: int
    started_at: int | None
    ended_at: int | None
    evictions: int
    assignments: tuple[PodAssignment, ...]
    reason: Reason | None

    @property
    def node(self) -> str | None:
        nodes = sorted({a.node for a in self.assignments})
        return ",".join(nodes) if nodes else None

    @property
    def gpu_milli(self) -> int:
        return sum(a.gpu_milli for a in self.assignments)

    @property
    def gpu_memory_limit_mib(self) -> int | None:
        limits = [a.gpu_memory_limit_mib for a in self.assignments if a.gpu_memory_limit_mib]
        return limits[0] if limits else None


@dataclass(frozen=True)
class ClusterView:
    at: int
    capacity_milli: int
    projects: Mapping[str, ProjectView]
    workloads: Mapping[str, WorkloadView]
    gpu_usage: Mapping[str, tuple[int, ...]]  # node -> milli held per GPU

    @property
    def allocated_milli(self) -> int:
        return sum(p.allocated_milli for p in self.projects.values())

    def count(self, state: State) -> int:
        return sum(1 for w in self.workloads.values() if w.state == state)

    def gpu_load(self, workload: str) -> int:
        """The most any GPU this workload sits on holds in total, in milli-GPUs."""
        loads = [
            self.gpu_usage[a.node][i]
            for a in self.workloads[workload].assignments
            for i in a.gpu_indices
        ]
        return max(loads, default=0)


class Recorder:
    """A CycleObserver, plus the timeline the runner samples after each instant."""

    def __init__(self, cluster: InMemoryCluster, quota: QuotaTree) -> None:
        self.cluster = cluster
        self.quota = quota
        self.cycles = 0
        self.last_plan: CyclePlan | None = None
        self.refused: list[RefusedBinding] = []
        self._refused_now: dict[str, str] = {}  # workload -> error, from the latest cycle
        self.timeline: list[TimelinePoint] = []
        self.evictions: list[EvictionEntry] = []
        self.bindings: list[BindingEntry] = []

    def on_cycle(self, report: CycleReport) -> None:
        self.cycles += 1
        self.last_plan = report.plan
        self._log(report)
        pods = {b.assignment.pod: b.workload for b in report.plan.bindings}
        self._refused_now = {}
        for pod, error in sorted(report.result.failed_bindings.items()):
            self.refused.append(RefusedBinding(report.at, pod, error))
            self._refused_now[pods.get(pod, pod)] = error

    def _log(self, report: CycleReport) -> None:
        """What the executor really did this cycle (failed actions are not logged)."""
        for e in report.result.evicted:
            kind = self.cluster.record(e.workload).workload.type
            self.evictions.append(
                EvictionEntry(report.at, self.cycles, e.workload, e.project, kind, e.gpu_milli,
                              e.reason, e.kind, e.by or None, e.message)
            )  # fmt: skip
        grouped: dict[str, list[PodAssignment]] = {}
        projects: dict[str, str] = {}
        for b in report.result.bound:
            grouped.setdefault(b.workload, []).append(b.assignment)
            projects[b.workload] = b.project
        for name, pods in grouped.items():
            entry = BindingEntry(report.at, self.cycles, name, projects[name], tuple(pods))
            self.bindings.append(entry)

    def sample(self, at: int) -> None:
        allocated = dict.fromkeys(sorted(self.quota.projects), 0)
        for r in self.cluster.records().values():
            if r.state == State.RUNNING:
                allocated[r.workload.project] = allocated.get(r.workload.project, 0) + r.gpu_milli
        if self.timeline and self.timeline[-1].at == at:
            self.timeline.pop()  # the instant is sampled again after more cycles
        if not self.timeline or self.timeline[-1].allocated_milli != allocated:
            self.timeline.append(TimelinePoint(at, allocated))

    def view(self, at: int) -> ClusterView:
        records = self.cluster.records()
        workloads = {name: self._workload_view(r) for name, r in records.items()}
        listed = list(workloads.values())
        projects = {name: self._project_view(name, listed) for name in sorted(self.quota.projects)}
        return ClusterView(
            at=at,
            capacity_milli=self.cluster.capacity_milli(),
            projects=projects,
            workloads=workloads,
            gpu_usage=self.cluster.ledger.gpu_usage(),
        )

    def _project_view(self, name: str, workloads: Sequence[WorkloadView]) -> ProjectView:
        mine = [w for w in workloads if w.project == name]
        summary = self.last_plan.projects.get(name) if self.last_plan else None
        return ProjectView(
            name=name,
            deserved_milli=self.quota.projects[name].deserved_milli,
            fair_share_milli=summary.fair_share_milli if summary else None,
            demand_milli=summary.demand_milli if summary else None,
            allocated_milli=sum(w.gpu_milli for w in mine),
            running=sum(1 for w in mine if w.state == State.RUNNING),
            pending=sum(1 for w in mine if w.state == State.PENDING),
        )

    def _workload_view(self, r: WorkloadRecord) -> WorkloadView:
        w = r.workload
        return WorkloadView(
            name=w.name,
            project=w.project,
            type=w.type,
            preemptible=w.is_preemptible,
            state=r.state,
            request=w.pods[0].gpu,
            pods=len(w.pods),
            submit_at=w.submit_time,
            started_at=r.started_at,
            ended_at=r.ended_at,
            evictions=r.evictions,
            assignments=r.assignments,
            reason=self._reason(r) if r.state in (State.PENDING, State.FINISHED) else None,
        )

    def _reason(self, r: WorkloadRecord) -> Reason | None:
        """Why it waits; for a finished workload, only a run-time limit that stopped it."""
        name = r.workload.name
        mine = [e for e in self.cluster.evictions if e.workload == name]
        if r.state == State.FINISHED:
            stopped = mine and mine[-1].reason == ReasonCode.RUN_TIME_LIMIT_EXCEEDED
            return Reason(mine[-1].reason.value, mine[-1].message) if stopped else None
        if name in self._refused_now:
            return Reason(
                BINDING_REFUSED, f"the cluster refused the binding: {self._refused_now[name]}"
            )
        plan = self.last_plan.pending.get(name) if self.last_plan else None
        if plan is not None:
            return Reason(plan.code.value, plan.message)
        return Reason(mine[-1].reason.value, mine[-1].message) if mine else None


def utilization(timeline: Sequence[TimelinePoint], capacity_milli: int, until: int) -> float:
    """Time-averaged allocated / capacity over [0, until] (at the instant, when until is 0)."""
    if capacity_milli <= 0 or not timeline:
        return 0.0
    if until <= 0:
        return round(timeline[-1].total_milli / capacity_milli, 6)
    area = 0
    for point, nxt in zip(timeline, [*timeline[1:], None], strict=True):
        end = until if nxt is None else min(nxt.at, until)
        area += point.total_milli * max(end - point.at, 0)
    return round(area / (capacity_milli * until), 6)
