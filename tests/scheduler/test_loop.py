"""The cycle loop through its ports: assume/forget, retries, nominations, observers.

The ports are our own, so they are faked here; the decision code is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fairshare.model import Binding, CyclePlan, RunningWorkload, Workload
from fairshare.quota_tree import QuotaTree
from scheduler.loop import SchedulingLoop
from scheduler.ports import ClusterState, CycleReport, ExecutionResult
from tests.builders import node, project, tree, workload


@dataclass
class LaggingCluster:
    """A cluster source whose reads lag the executor by `lag` cycles, like an informer."""

    state: ClusterState
    lag: int = 0
    fail_pods: set[str] = field(default_factory=set)
    applied: list[CyclePlan] = field(default_factory=list)
    reads: list[ClusterState] = field(default_factory=list)

    def cluster_state(self) -> ClusterState:
        self.reads.append(self.state)
        return self.reads[max(0, len(self.reads) - 1 - self.lag)]

    def execute(self, plan: CyclePlan) -> ExecutionResult:
        self.applied.append(plan)
        bound = tuple(b for b in plan.bindings if b.assignment.pod not in self.fail_pods)
        failed = {
            b.assignment.pod: "conflict"
            for b in plan.bindings
            if b.assignment.pod in self.fail_pods
        }
        self._apply(bound, plan)
        return ExecutionResult(bound=bound, evicted=plan.evictions, failed_bindings=failed)

    def _apply(self, bound: tuple[Binding, ...], plan: CyclePlan) -> None:
        done = {b.workload for b in bound}
        evicted = {e.workload for e in plan.evictions}
        running = [r for r in self.state.running if r.workload.name not in evicted]
        pending: list[Workload] = [w for w in self.state.pending if w.name not in done]
        for w in self.state.pending:
            if w.name in done:
                running.append(
                    RunningWorkload(
                        w, tuple(b.assignment for b in bound if b.workload == w.name), 0
                    )
                )
        pending += [r.workload for r in self.state.running if r.workload.name in evicted]
        self.state = ClusterState(self.state.nodes, tuple(running), tuple(pending))


@dataclass
class StaticQuota:
    quota: QuotaTree

    def quota_tree(self) -> QuotaTree:
        return self.quota


@dataclass
class Ticks:
    t: int = 0

    def now(self) -> int:
        self.t += 10
        return self.t


@dataclass
class Seen:
    reports: list[CycleReport] = field(default_factory=list)

    def on_cycle(self, report: CycleReport) -> None:
        self.reports.append(report)


def _loop(
    cluster: LaggingCluster, quota: QuotaTree, observer: Seen | None = None
) -> SchedulingLoop:
    return SchedulingLoop(
        cluster, StaticQuota(quota), cluster, Ticks(), observers=[observer] if observer else []
    )


def test_an_assumed_binding_is_not_bound_twice_while_the_source_lags() -> None:
    cluster = LaggingCluster(
        ClusterState((node("n1", 8),), pending=(workload("w", "a", 8),)), lag=1
    )
    loop = _loop(cluster, tree(project("a", 8)))
    loop.run_cycle()
    second = loop.run_cycle()  # the source still shows w pending
    assert [b.workload for b in cluster.applied[0].bindings] == ["w"]
    assert not second.plan.bindings and not second.plan.pending


def test_a_failed_bind_is_forgotten_and_retried_next_cycle() -> None:
    cluster = LaggingCluster(
        ClusterState((node("n1", 8),), pending=(workload("w", "a", 1),)), fail_pods={"w"}
    )
    loop = _loop(cluster, tree(project("a", 8)))
    first = loop.run_cycle()
    assert first.result.failed_bindings == {"w": "conflict"}
    cluster.fail_pods.clear()
    second = loop.run_cycle()
    assert [b.workload for b in second.plan.bindings] == ["w"]


def test_nominations_carry_the_room_a_reclaim_made_to_the_next_cycle() -> None:
    quota = tree(project("a", 4), project("b", 4))
    cluster = LaggingCluster(
        ClusterState((node("n1", 8),), pending=tuple(workload(f"a{i}", "a", 1) for i in range(8)))
    )
    loop = _loop(cluster, quota)
    loop.run_cycle()
    cluster.state = ClusterState(
        cluster.state.nodes, cluster.state.running, (workload("b0", "b", 1),)
    )
    reclaim = loop.run_cycle()
    assert reclaim.plan.nominated == {"b0": ("n1",)} and len(reclaim.plan.evictions) == 1
    after = loop.run_cycle()
    assert [b.workload for b in after.plan.bindings] == ["b0"]  # not the evicted a-workload


def test_observers_see_every_cycle_in_order() -> None:
    seen = Seen()
    cluster = LaggingCluster(ClusterState((node("n1", 8),), pending=(workload("w", "a", 1),)))
    loop = _loop(cluster, tree(project("a", 8)), seen)
    for _ in range(3):
        loop.run_cycle()
    assert [r.at for r in seen.reports] == [10, 20, 30]


def test_run_forever_cycles_until_told_to_stop() -> None:
    cluster = LaggingCluster(ClusterState((node("n1", 8),)))
    loop = _loop(cluster, tree(project("a", 8)))
    slept: list[float] = []
    loop.run_forever(5.0, slept.append, lambda: len(slept) >= 3)
    assert slept == [5.0, 5.0, 5.0] and len(cluster.applied) == 3
