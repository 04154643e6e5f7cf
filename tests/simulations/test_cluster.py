"""The in-memory cluster: what it reports, and how it executes (or refuses) a plan."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fairshare.model import (
    Binding,
    CyclePlan,
    Eviction,
    Node,
    PodAssignment,
    ReasonCode,
    Taint,
    Workload,
)
from fairshare.quota_tree import Project, QuotaTree
from simulations.cluster import InMemoryCluster, State
from simulations.engine import VirtualClock
from tests.simulations.builders import node, tree, workload


def cluster(
    *workloads: Workload, nodes: Sequence[Node] = (), quota: QuotaTree | None = None
) -> InMemoryCluster:
    c = InMemoryCluster(list(nodes) or [node("n", 4)], quota or tree(), VirtualClock())
    for w in workloads:
        c.add(w)
        c.submit(w.name)
    return c


def bind(w: Workload, *gpus: tuple[int, ...], node_name: str = "n", milli: int = 0) -> CyclePlan:
    """Bind pod i of w to the GPUs gpus[i]; milli defaults to what the pod asks for."""
    out = []
    for pod, indices in zip(w.pods, gpus, strict=True):
        size = milli or pod.gpu.milli_on(32768)
        out.append(Binding(w.name, w.project, PodAssignment(pod.name, node_name, indices, size)))
    return CyclePlan(bindings=tuple(out))


def evict(c: InMemoryCluster, name: str, reason: ReasonCode = ReasonCode.RECLAIMED) -> Eviction:
    r = c.record(name)
    return Eviction(name, r.workload.project, r.assignments, reason, "room for someone")


def test_a_bound_workload_runs_where_the_plan_put_it() -> None:
    w = workload("a", gpus=2)
    c = cluster(w)
    result = c.execute(bind(w, (0, 1)))
    assert result.bound and not result.failed_bindings
    record = c.record("a")
    assert (record.state, record.started_at, record.run_id) == (State.RUNNING, 0, 1)
    assert c.ledger.gpu_usage() == {"n": (1000, 1000, 0, 0)}
    state = c.cluster_state()
    assert [r.workload.name for r in state.running] == ["a"] and not state.pending


def test_pending_workloads_are_reported_by_submit_time_then_name() -> None:
    c = cluster(
        workload("b", submit_time=5), workload("c", submit_time=1), workload("a", submit_time=5)
    )
    assert [w.name for w in c.cluster_state().pending] == ["c", "a", "b"]


def test_fractions_may_share_a_gpu_up_to_one_whole() -> None:
    x, y = workload("x", fraction=0.6), workload("y", fraction=0.4)
    c = cluster(x, y)
    assert not c.execute(bind(x, (2,))).failed_bindings
    assert not c.execute(bind(y, (2,))).failed_bindings
    assert c.ledger.gpu_usage()["n"][2] == 1000


REFUSED = [
    pytest.param(workload("w", gpus=1), [(0,)], "over-committed",
                 id="a whole GPU already in use is refused"),
    pytest.param(workload("w", fraction=0.5), [(1,)], "GPU 1 would hold 1.1 GPUs",
                 id="a fraction that would push a shared GPU past one whole is refused"),
    pytest.param(workload("w", gpus=1, pods=2), [(2,), (2,)], "over-committed",
                 id="two pods of a gang on the same GPU are refused together"),
    pytest.param(workload("w", gpus=2), [(2,)], "needs 2 GPU index(es), the binding names 1",
                 id="a binding with fewer GPUs than the pod asks for is refused"),
    pytest.param(workload("w", gpus=1), [(9,)], "outside 0..3",
                 id="a GPU index the node does not have is refused"),
    pytest.param(workload("w", gpus=1, cpu_milli=65_000), [(3,)], "CPU over-committed",
                 id="CPU beyond the node's allocatable is refused"),
]  # fmt: skip


@pytest.mark.parametrize(("w", "gpus", "error"), REFUSED)
def test_an_over_commit_by_the_plan_is_refused_not_accepted(
    w: Workload, gpus: list[tuple[int, ...]], error: str
) -> None:
    held_whole, held_frac = workload("whole", gpus=1), workload("frac", fraction=0.6)
    c = cluster(held_whole, held_frac, w)
    c.execute(bind(held_whole, (0,)))
    c.execute(bind(held_frac, (1,)))
    before = c.ledger.gpu_usage()
    result = c.execute(bind(w, *gpus))
    assert not result.bound
    assert set(result.failed_bindings) == {p.name for p in w.pods}
    assert all(error in e for e in result.failed_bindings.values()), result.failed_bindings
    assert c.record("w").state == State.PENDING
    assert c.ledger.gpu_usage() == before


def test_a_binding_that_misstates_the_size_is_refused() -> None:
    w = workload("w", fraction=0.5)
    result = cluster(w).execute(bind(w, (0,), milli=300))
    assert "gives 0.3 GPUs, the pod asks for 0.5" in result.failed_bindings["w"]


def test_a_gang_bound_in_part_is_refused_whole() -> None:
    w = workload("g", gpus=1, pods=3)
    partial = CyclePlan(bindings=bind(w, (0,), (1,), (2,)).bindings[:2])
    result = cluster(w).execute(partial)
    assert set(result.failed_bindings) == {"g-0", "g-1"}
    assert "gang of 3 would start with only 2 pods bound" in result.failed_bindings["g-0"]


def test_a_node_that_does_not_admit_the_pod_is_refused() -> None:
    w = workload("w")
    tainted = node("n", 4, taints=(Taint("dedicated", "infer", "NoSchedule"),))
    result = cluster(w, nodes=[tainted]).execute(bind(w, (0,)))
    assert "does not admit it (taint dedicated=infer:NoSchedule)" in result.failed_bindings["w"]


def test_a_node_outside_the_projects_pools_is_refused() -> None:
    w = workload("w")
    quota = QuotaTree.build([Project("team-a", 4000, node_pools=("gold",))])
    result = cluster(w, quota=quota).execute(bind(w, (0,)))
    assert "in pool 'default'" in result.failed_bindings["w"]


def test_binding_a_workload_that_is_not_pending_is_refused() -> None:
    w = workload("w")
    c = cluster(w)
    c.execute(bind(w, (0,)))
    assert "is not pending (running)" in c.execute(bind(w, (1,))).failed_bindings["w"]


def test_an_eviction_requeues_the_workload_and_frees_its_gpus() -> None:
    w = workload("w", gpus=2)
    c = cluster(w)
    c.execute(bind(w, (0, 1)))
    result = c.execute(CyclePlan(evictions=(evict(c, "w"),)))
    assert result.evicted and not result.failed_evictions
    r = c.record("w")
    assert (r.state, r.evictions, r.started_at) == (State.PENDING, 1, None)
    assert r.workload.submit_time == 0  # it waits again with its original submit time
    assert c.ledger.gpu_usage() == {"n": (0, 0, 0, 0)}
    assert [(e.workload, e.reason) for e in c.evictions] == [("w", ReasonCode.RECLAIMED)]


def test_a_run_time_limit_eviction_stops_the_workload_for_good() -> None:
    w = workload("w")
    c = cluster(w)
    c.execute(bind(w, (0,)))
    c.execute(CyclePlan(evictions=(evict(c, "w", ReasonCode.RUN_TIME_LIMIT_EXCEEDED),)))
    assert c.record("w").state == State.FINISHED
    assert not c.cluster_state().pending


def test_evictions_are_applied_before_bindings_so_a_plan_may_bind_into_freed_room() -> None:
    victim, taker = workload("v", gpus=4), workload("t", gpus=4, project="team-b")
    c = cluster(victim, taker)
    c.execute(bind(victim, (0, 1, 2, 3)))
    plan = CyclePlan(evictions=(evict(c, "v"),), bindings=bind(taker, (0, 1, 2, 3)).bindings)
    result = c.execute(plan)
    assert result.evicted and result.bound
    assert c.record("t").state == State.RUNNING


def test_evicting_a_workload_that_is_not_running_fails() -> None:
    w = workload("w")
    c = cluster(w)
    eviction = Eviction("w", "team-a", (), ReasonCode.RECLAIMED, "")
    result = c.execute(CyclePlan(evictions=(eviction,)))
    assert "not running (pending)" in result.failed_evictions["w"]


def test_a_finish_for_an_earlier_run_is_ignored() -> None:
    w = workload("w")
    c = cluster(w)
    c.execute(bind(w, (0,)))
    c.execute(CyclePlan(evictions=(evict(c, "w"),)))
    c.execute(bind(w, (0,)))  # second run
    assert not c.finish("w", run_id=1)
    assert c.record("w").state == State.RUNNING
    assert c.finish("w", run_id=2)
    assert c.record("w").state == State.FINISHED
    assert c.ledger.gpu_usage()["n"][0] == 0


def test_deleting_a_running_workload_frees_its_gpus() -> None:
    w = workload("w", gpus=4)
    c = cluster(w)
    c.execute(bind(w, (0, 1, 2, 3)))
    assert c.delete("w")
    assert c.record("w").state == State.DELETED
    assert c.ledger.gpu_usage()["n"] == (0, 0, 0, 0)
    assert not c.delete("w")
