"""Reclaim across projects over several cycles: converges to the fair share, bounded.

Each test applies every plan to the state (bound workloads run, evicted ones wait again)
and runs the next cycle on what the previous one left, as the live loop does.
"""

from __future__ import annotations

from fairshare.decide import decide
from fairshare.model import Policy, ReasonCode
from tests.builders import apply, held, nodes, project, settle, snapshot, tree, workload

TWO_DGX = nodes("dgx1", 2)
RUNAI = tree(project("team-a", 4), project("team-b", 2), project("team-c", 2), project("team-d", 8))


def _part1() -> list:  # type: ignore[type-arg]
    w = workload
    return [
        w("a-1", "team-a", 1),
        w("a-2", "team-a", 2),
        w("a-jupyter", "team-a", 1, type="interactive"),
        w("b-1", "team-b", fraction="0.6", type="interactive"),
        w("b-2", "team-b", fraction="0.4", type="interactive"),
        w("b-3", "team-b", 1),
        w("b-4", "team-b", 2),
        w("c-1", "team-c", fraction="0.5", type="interactive"),
        w("c-2", "team-c", fraction="0.3", type="interactive"),
        w("c-3", "team-c", fraction="0.2", type="interactive"),
        w("c-4", "team-c", 2),
        w("c-5", "team-c", 1),
        w("d-1", "team-d", 4),
    ]


def test_runai_validation_sequence_at_core_level() -> None:
    snap, _ = settle(snapshot(TWO_DGX, RUNAI, pending=_part1()))
    assert held(snap) == {"team-a": 4, "team-b": 4, "team-c": 4, "team-d": 4}
    assert not snap.pending

    snap = snap.__class__(
        snap.nodes,
        snap.quota,
        snap.running,
        (workload("d-2", "team-d", 2, submit=600), workload("d-3", "team-d", 2, submit=600)),
        (),
        600,
    )
    snap, plans = settle(snap)
    evicted = [e for p in plans for e in p.evictions]
    assert sorted(e.project for e in evicted) == ["team-b", "team-c"]
    assert all(e.reason == ReasonCode.RECLAIMED for e in evicted)
    assert {e.workload for e in evicted} <= {"b-3", "b-4", "c-4", "c-5"}  # trains only
    assert held(snap) == {"team-a": 4, "team-b": 2, "team-c": 2, "team-d": 8}


def test_reclaim_goes_on_to_the_fair_share_not_only_the_deserved_quota() -> None:
    # b's weight is 3x a's: of the 4 surplus GPUs b's fair share is 2 + 3 = 5, a's 2 + 1 = 3.
    t = tree(project("a", 2, weight=1), project("b", 2, weight=3))
    snap = snapshot(nodes("n", 1), t, pending=[workload(f"a{i}", "a", 1) for i in range(8)])
    snap, _ = settle(snap)
    assert held(snap) == {"a": 8}
    more_b = tuple(workload(f"b{i}", "b", 1, submit=100) for i in range(8))
    snap = snap.__class__(snap.nodes, t, snap.running, snap.pending + more_b, (), 100)
    snap, plans = settle(snap)
    assert held(snap) == {"a": 3, "b": 5}  # KAI would stop at b = 2 (its deserved quota)
    assert sum(len(p.evictions) for p in plans) == 5


def test_a_settled_cluster_evicts_nothing_on_the_next_cycle() -> None:
    t = tree(project("a", 2, weight=1), project("b", 2, weight=3))
    pending = [workload(f"a{i}", "a", 1) for i in range(8)] + [
        workload(f"b{i}", "b", 1, submit=5) for i in range(8)
    ]
    snap, _ = settle(snapshot(nodes("n", 1), t, pending=pending))
    for _ in range(3):
        plan = decide(snap)
        assert not plan.evictions and not plan.bindings
        snap = apply(snap, plan, snap.now + 10)


def test_the_reclaim_budget_bounds_each_cycle() -> None:
    t = tree(project("a", 4), project("b", 4))
    snap, _ = settle(
        snapshot(nodes("n", 1), t, pending=[workload(f"a{i}", "a", 1) for i in range(8)])
    )
    snap = snap.__class__(
        snap.nodes,
        t,
        snap.running,
        tuple(workload(f"b{i}", "b", 1, submit=1) for i in range(4)),
        (),
        50,
    )
    plan = decide(snap, Policy(max_reclaim_milli_per_cycle=1000))
    assert len(plan.evictions) == 1
    snap, plans = settle(snap, Policy(max_reclaim_milli_per_cycle=1000))
    assert held(snap) == {"a": 4, "b": 4}
    assert max(len(p.evictions) for p in plans) == 1


def test_young_workloads_are_not_reclaimed_before_min_runtime() -> None:
    t = tree(project("a", 4), project("b", 4))
    snap, _ = settle(
        snapshot(nodes("n", 1), t, pending=[workload(f"a{i}", "a", 1) for i in range(8)])
    )
    b = (workload("b0", "b", 1, submit=1),)
    young = snap.__class__(snap.nodes, t, snap.running, b, (), snap.now + 30)
    plan = decide(young, Policy(min_runtime_seconds=60))
    assert not plan.evictions
    assert plan.pending["b0"].code == ReasonCode.UNSCHEDULABLE
    old = snap.__class__(snap.nodes, t, snap.running, b, (), snap.now + 61)
    assert len(decide(old, Policy(min_runtime_seconds=60)).evictions) == 1


def test_victims_are_the_lowest_priority_then_the_most_recently_started() -> None:
    t = tree(project("a", 0), project("b", 4))
    snap = snapshot(
        nodes("n", 1, gpus=4),
        t,
        pending=[
            workload("old-low", "a", 1, priority=0, submit=0),
            workload("high", "a", 1, priority=5, submit=0),
        ],
    )
    snap, _ = settle(snap)
    snap = snap.__class__(
        snap.nodes,
        t,
        snap.running,
        (
            workload("new-low", "a", 1, priority=0, submit=20),
            workload("another", "a", 1, priority=0, submit=20),
        ),
        (),
        20,
    )
    snap, _ = settle(snap)
    assert held(snap) == {"a": 4}
    snap = snap.__class__(snap.nodes, t, snap.running, (workload("b1", "b", 1, submit=99),), (), 99)
    plan = decide(snap)
    (victim,) = plan.evictions
    assert victim.workload in {"new-low", "another"}  # lowest priority, most recently started


def test_a_project_confined_to_a_small_pool_leaves_the_rest_to_others() -> None:
    small, big = {"quotient.io/node-pool": "a100"}, {"quotient.io/node-pool": "v100"}
    cluster = (*nodes("a100", 1, gpus=2, labels=small), *nodes("v100", 1, gpus=8, labels=big))
    t = tree(project("a", 5, pools=("a100",)), project("b", 5, pools=("v100",)))
    pending = [workload(f"a{i}", "a", 1) for i in range(6)] + [
        workload(f"b{i}", "b", 1) for i in range(8)
    ]
    snap, plans = settle(snapshot(cluster, t, pending=pending))
    # a's share is what its pool holds, so b's is not shrunk by GPUs a could never use.
    assert plans[0].projects["a"].fair_share_milli == 2000
    assert plans[0].projects["b"].fair_share_milli == 8000
    assert held(snap) == {"a": 2, "b": 8}
