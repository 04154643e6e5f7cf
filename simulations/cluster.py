"""The in-memory cluster: the simulator's `ClusterSource` and `Executor`.

Owns the lifecycle of every simulated workload (waiting to be submitted, pending, running,
finished, deleted), what the loop reads (`cluster_state`) and what it asks for (`execute`):
a gang binds whole in one plan or not at all, an eviction puts a workload back to pending
(same submit time; its run time starts over) except one for exceeding a run-time limit,
which stops it for good (state finished), and every binding is double-checked against
the nodes' own usage, so an over-commit by the core is refused as a failed binding, never
accepted silently. It keeps the eviction log. It must not decide anything (the core does)
nor schedule events (the runner does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from fairshare.model import (
    Binding,
    CyclePlan,
    Eviction,
    Node,
    PodAssignment,
    ReasonCode,
    RunningWorkload,
    Workload,
    WorkloadType,
)
from fairshare.quota_tree import QuotaTree
from fairshare.resources import MILLI_PER_GPU
from scheduler.ports import Clock, ClusterState, ExecutionResult
from simulations.node_ledger import NodeLedger, Placed


class State(StrEnum):
    WAITING = "waiting"  # not submitted yet
    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    DELETED = "deleted"


@dataclass(frozen=True)
class WorkloadRecord:
    workload: Workload
    state: State = State.WAITING
    assignments: tuple[PodAssignment, ...] = ()
    started_at: int | None = None
    run_id: int = 0  # counts starts, so a finish scheduled for an earlier run is ignored
    evictions: int = 0
    ended_at: int | None = None

    @property
    def gpu_milli(self) -> int:
        return sum(a.gpu_milli for a in self.assignments)


@dataclass(frozen=True)
class EvictionRecord:
    at: int
    workload: str
    project: str
    type: WorkloadType
    reason: ReasonCode
    message: str
    gpu_milli: int


class InMemoryCluster:
    def __init__(self, nodes: Sequence[Node], quota: QuotaTree, clock: Clock) -> None:
        self.nodes = tuple(sorted(nodes, key=lambda n: n.name))
        self.quota = quota
        self.clock = clock
        self.ledger = NodeLedger.of(self.nodes)
        self._records: dict[str, WorkloadRecord] = {}
        # Names by state, kept with every write, so a cycle reads the pending and running
        # workloads without scanning every workload the run has seen.
        self._by_state: dict[State, set[str]] = {s: set() for s in State}
        self.evictions: list[EvictionRecord] = []

    # ------------------------------------------------------------ lifecycle (runner)

    def add(self, workload: Workload) -> None:
        if workload.name in self._records:
            raise ValueError(f"workload {workload.name!r} is already known")
        self._put(workload.name, WorkloadRecord(workload))

    def submit(self, name: str) -> bool:
        return self._move(name, (State.WAITING,), State.PENDING)

    def delete(self, name: str) -> bool:
        return self._move(name, (State.WAITING, State.PENDING, State.RUNNING), State.DELETED)

    def finish(self, name: str, run_id: int) -> bool:
        """End a run that lasted its duration; False if that run is over already."""
        record = self._records[name]
        if record.run_id != run_id:
            return False
        return self._move(name, (State.RUNNING,), State.FINISHED)

    def _move(self, name: str, sources: tuple[State, ...], target: State) -> bool:
        record = self._records[name]
        if record.state not in sources:
            return False
        if record.state == State.RUNNING:
            self.ledger.release(_placed(record.workload, record.assignments))
        ended = self.clock.now() if target in (State.FINISHED, State.DELETED) else None
        self._put(name, replace(record, state=target, assignments=(), ended_at=ended))
        return True

    # -------------------------------------------------------------------- reads

    def record(self, name: str) -> WorkloadRecord:
        return self._records[name]

    def records(self) -> Mapping[str, WorkloadRecord]:
        return dict(sorted(self._records.items()))

    def has_pending(self) -> bool:
        return bool(self._by_state[State.PENDING])

    def _put(self, name: str, record: WorkloadRecord) -> None:
        old = self._records.get(name)
        if old is not None:
            self._by_state[old.state].discard(name)
        self._records[name] = record
        self._by_state[record.state].add(name)

    def capacity_milli(self) -> int:
        return sum(n.gpu_count for n in self.nodes) * MILLI_PER_GPU

    # ------------------------------------------------------------ ClusterSource port

    def cluster_state(self) -> ClusterState:
        live = sorted(self._by_state[State.RUNNING] | self._by_state[State.PENDING])
        records = [self._records[name] for name in live]
        running = tuple(
            RunningWorkload(r.workload, r.assignments, r.started_at or 0)
            for r in records
            if r.state == State.RUNNING
        )
        pending = sorted(
            (r.workload for r in records if r.state == State.PENDING),
            key=lambda w: (w.submit_time, w.name),
        )
        return ClusterState(nodes=self.nodes, running=running, pending=tuple(pending))

    # ----------------------------------------------------------------- Executor port

    def execute(self, plan: CyclePlan) -> ExecutionResult:
        """Evictions first (they free room the plan may bind into), then bindings."""
        evicted: list[Eviction] = []
        failed_evictions: dict[str, str] = {}
        for eviction in plan.evictions:
            error = self._evict(eviction)
            if error is None:
                evicted.append(eviction)
            else:
                failed_evictions[eviction.workload] = error
        bound: list[Binding] = []
        failed_bindings: dict[str, str] = {}
        for name, group in _by_workload(plan.bindings).items():
            error = self._bind(name, group)
            if error is None:
                bound.extend(group)
            else:
                failed_bindings.update({b.assignment.pod: error for b in group})
        return ExecutionResult(
            bound=tuple(bound),
            evicted=tuple(evicted),
            failed_bindings=failed_bindings,
            failed_evictions=failed_evictions,
        )

    def _evict(self, eviction: Eviction) -> str | None:
        record = self._records.get(eviction.workload)
        if record is None or record.state != State.RUNNING:
            state = record.state if record else "unknown"
            return f"workload {eviction.workload} is not running ({state})"
        self.ledger.release(_placed(record.workload, record.assignments))
        self.evictions.append(
            EvictionRecord(
                at=self.clock.now(),
                workload=record.workload.name,
                project=record.workload.project,
                type=record.workload.type,
                reason=eviction.reason,
                message=eviction.message,
                gpu_milli=record.gpu_milli,
            )
        )
        if eviction.reason == ReasonCode.RUN_TIME_LIMIT_EXCEEDED:
            # Stopped for good, as the core counts it: a run-time limit does not requeue.
            self._put(eviction.workload, replace(
                record, state=State.FINISHED, assignments=(), ended_at=self.clock.now(),
                evictions=record.evictions + 1,
            ))  # fmt: skip
            return None
        # A gang is evicted whole; it waits again with its original submit time.
        self._put(eviction.workload, replace(
            record, state=State.PENDING, assignments=(), started_at=None,
            evictions=record.evictions + 1,
        ))  # fmt: skip
        return None

    def _bind(self, name: str, group: Sequence[Binding]) -> str | None:
        record = self._records.get(name)
        if record is None or record.state != State.PENDING:
            state = record.state if record else "unknown"
            return f"workload {name} is not pending ({state})"
        error = self._binding_error(record.workload, group)
        if error is not None:
            return error
        # The cluster reports what pods request, as the API server would, not what a
        # binding claims: the core's next snapshot is built on truth.
        pods = {p.name: p for p in record.workload.pods}
        assignments = tuple(
            replace(
                b.assignment,
                cpu_milli=pods[b.assignment.pod].cpu_milli,
                memory_bytes=pods[b.assignment.pod].memory_bytes,
            )
            for b in group
        )
        self.ledger.take(_placed(record.workload, assignments))
        self._put(name, replace(
            record, state=State.RUNNING, assignments=assignments,
            started_at=self.clock.now(), run_id=record.run_id + 1,
        ))  # fmt: skip
        return None

    def _binding_error(self, w: Workload, group: Sequence[Binding]) -> str | None:
        names = [b.assignment.pod for b in group]
        pods = {p.name for p in w.pods}
        if any(b.project != w.project for b in group):
            return f"binding names another project than {w.project}"
        if len(set(names)) != len(names) or not set(names) <= pods:
            return f"bindings name pods {sorted(names)}, the workload has {sorted(pods)}"
        if len(names) < w.gang_minimum:
            return f"gang of {w.gang_minimum} would start with only {len(names)} pods bound"
        project = self.quota.projects.get(w.project)
        pools = project.node_pools if project else ()
        assignments = tuple(b.assignment for b in group)
        return self.ledger.admit(_placed(w, assignments), w.constraints, pools)


def _placed(w: Workload, assignments: Sequence[PodAssignment]) -> list[Placed]:
    pods = {p.name: p for p in w.pods}
    return [(pods[a.pod], a) for a in assignments]


def _by_workload(bindings: Sequence[Binding]) -> dict[str, list[Binding]]:
    out: dict[str, list[Binding]] = {}
    for b in bindings:
        out.setdefault(b.workload, []).append(b)
    return out
