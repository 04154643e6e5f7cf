"""One scheduling cycle (DESIGN §1.2), case by case.

Each case is a sentence: the cluster, the quota tree and the workloads it starts from, and
what the plan must say.
"""

from __future__ import annotations

import pytest

from fairshare.decide import decide
from fairshare.model import (
    Constraints,
    CyclePlan,
    ForeignUsage,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Policy,
    ReasonCode,
    RunningWorkload,
    Snapshot,
    Taint,
    Toleration,
)
from tests.builders import node, nodes, project, snapshot, tree, workload
from tests.fairshare.cycle_cases import Case, check_plan, run

two_dgx = nodes("dgx1", 2)
one = (node("n1", 8),)
ab = tree(project("a", 4), project("b", 4))

CASES = [
    pytest.param(
        Case(
            snapshot([node("big", 8), node("small", 4)], ab, pending=[workload("w", "a", 2)]),
            placed_on={"w": "small"},
        ),
        id="binpack puts a pod on the node with the fewest idle GPUs that still fits",
    ),
    pytest.param(
        Case(
            snapshot([node("big", 8), node("small", 4)], ab, pending=[workload("w", "a", 2)]),
            policy=Policy(placement="spread"),
            placed_on={"w": "big"},
        ),
        id="spread puts a pod on the node with the most idle GPUs",
    ),
    pytest.param(
        Case(
            snapshot(two_dgx, ab, pending=[workload("g", "a", 5, pods=3)]),
            pending={"g": (ReasonCode.UNSCHEDULABLE, "needs 3 pods of 5 GPUs on one node")},
        ),
        id="a gang that does not fit whole places no pod at all",
    ),
    pytest.param(
        Case(
            snapshot(one, ab, pending=[workload("g", "a", 4, pods=3)]),
            pending={"g": (ReasonCode.NO_MATCHING_NODE, "the gang needs 12 GPUs and the nodes")},
        ),
        id="a gang larger than every node it may use together can never start",
    ),
    pytest.param(
        Case(
            snapshot(
                two_dgx,
                tree(project("a", 2, limit=4)),
                pending=[workload("w1", "a", 4, submit=1), workload("w2", "a", 1, submit=2)],
            ),
            placed_on={"w1": "dgx1-1"},
            pending={"w2": (ReasonCode.OVER_LIMIT, "project a is at its limit of 4 GPUs")},
        ),
        id="limit_gpus is never exceeded, even with idle GPUs",
    ),
    pytest.param(
        Case(
            snapshot(
                two_dgx, tree(project("a", 1)), pending=[workload("j", "a", 2, type="interactive")]
            ),
            pending={"j": (ReasonCode.OVER_DESERVED, "can never run: non-preemptible, it needs 2")},
        ),
        id="non-preemptible work bigger than the deserved quota is told it can never run",
    ),
    pytest.param(
        Case(
            snapshot(
                two_dgx,
                tree(project("a", 1)),
                pending=[workload("t", "a", 2, type="interactive", preemptible=True)],
            ),
            placed_on={"t": "dgx1-1"},
        ),
        id="an interactive workload marked preemptible may borrow",
    ),
    pytest.param(
        Case(
            snapshot(
                one,
                tree(project("a", 0)),
                pending=[
                    workload("w", "a", 2, constraints=Constraints(node_selector={"gpu": "a100"}))
                ],
            ),
            pending={"w": (ReasonCode.NO_MATCHING_NODE, "nodeSelector gpu=a100")},
        ),
        id="a nodeSelector no node matches is reported as such",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("t", 8, taints=[Taint("dedicated", "infer")])],
                tree(project("a", 8)),
                pending=[
                    workload("w", "a", 1),
                    workload(
                        "ok",
                        "a",
                        1,
                        constraints=Constraints(
                            tolerations=(Toleration("dedicated", "Equal", "infer"),)
                        ),
                    ),
                ],
            ),
            placed_on={"ok": "t"},
            pending={"w": (ReasonCode.NO_MATCHING_NODE, "taint dedicated=infer:NoSchedule")},
        ),
        id="taints keep out pods without a matching toleration",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("x", 8, labels={"zone": "1"}), node("y", 8, labels={"zone": "2"})],
                tree(project("a", 8)),
                pending=[
                    workload(
                        "w",
                        "a",
                        1,
                        constraints=Constraints(
                            required_terms=(
                                NodeSelectorTerm((NodeSelectorRequirement("zone", "In", ("2",)),)),
                            )
                        ),
                    )
                ],
            ),
            placed_on={"w": "y"},
        ),
        id="required node affinity is honoured",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("x", 8, labels={"quotient.io/node-pool": "a100"}), node("y", 8)],
                tree(project("a", 8, pools=("a100",))),
                pending=[workload("w", "a", 1)],
            ),
            placed_on={"w": "x"},
        ),
        id="a project's node pools restrict where its workloads run",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("x", 8, unschedulable=True), node("y", 8)],
                tree(project("a", 8)),
                pending=[workload("w", "a", 1)],
            ),
            placed_on={"w": "y"},
        ),
        id="a cordoned node takes no new pods",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("x", 8, cpu=4000), node("y", 8)],
                tree(project("a", 8)),
                pending=[workload("w", "a", 1, cpu=8000)],
            ),
            placed_on={"w": "y"},
        ),
        id="CPU requests are honoured like the default scheduler",
    ),
    pytest.param(
        Case(
            snapshot(one, ab, pending=[workload("w", "ghost", 1)]),
            pending={"w": (ReasonCode.PROJECT_NOT_FOUND, "project 'ghost' does not exist")},
        ),
        id="a workload of an unknown project waits with ProjectNotFound",
    ),
    pytest.param(
        Case(
            snapshot(
                one,
                ab,
                pending=[
                    workload("w", "a", 1, invalid="asks for both gpu-fraction and nvidia.com/gpu")
                ],
            ),
            pending={"w": (ReasonCode.INVALID_REQUEST, "both gpu-fraction and nvidia.com/gpu")},
        ),
        id="a contradictory request waits with InvalidRequest, never a guess",
    ),
    pytest.param(
        Case(
            snapshot(one, ab, pending=[workload("w", "a", 9)]),
            pending={"w": (ReasonCode.NO_MATCHING_NODE, "needs 9 GPUs and the largest node has 8")},
        ),
        id="a pod bigger than every node says so",
    ),
    pytest.param(
        Case(
            Snapshot(one, ab, (), (workload("w", "a", 4),), (ForeignUsage("n1", gpus=6),), 0),
            pending={"w": (ReasonCode.OVER_FAIR_SHARE, "its fair share is 2")},
        ),
        id="GPUs held by other schedulers' pods count as used",
    ),
    pytest.param(
        Case(
            snapshot(one, ab, pending=[workload("m", "a", memory_mib=8192)]),
            placed_on={"m": "n1"},
        ),
        id="a GPU-memory request becomes a fraction of the chosen GPU",
    ),
    pytest.param(
        Case(
            snapshot(
                one,
                tree(project("a", 4, max_training=3600)),
                running=[run(workload("old", "a", 2), "n1", at=0)],
                now=4000,
            ),
            evicted={"old": ReasonCode.RUN_TIME_LIMIT_EXCEEDED},
        ),
        id="a workload past its run-time limit is evicted",
    ),
    pytest.param(
        Case(
            snapshot(
                one,
                tree(project("a", 8)),
                running=[run(workload("low", "a", 8, priority=0), "n1")],
                pending=[workload("high", "a", 4, priority=10)],
                now=100,
            ),
            evicted={"low": ReasonCode.PREEMPTED},
            pending={"high": (ReasonCode.RECLAIMING, "preempting 1 workload of a")},
        ),
        id="higher priority preempts lower priority inside a project",
    ),
    pytest.param(
        Case(
            snapshot(
                one,
                tree(project("a", 8)),
                running=[run(workload("low", "a", 8, type="interactive"), "n1")],
                pending=[workload("high", "a", 4, priority=10)],
                now=100,
            ),
            pending={
                "high": (ReasonCode.OVER_FAIR_SHARE, "a holds 8 GPUs and its fair share is 8")
            },
        ),
        id="non-preemptible work is never a victim",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_cycle(case: Case) -> None:
    plan = check_plan(case)
    _every_waiting_workload_has_one_reason(case.snap, plan)


def _every_waiting_workload_has_one_reason(snap: Snapshot, plan: CyclePlan) -> None:
    bound = {b.workload for b in plan.bindings}
    waiting = {w.name for w in snap.pending} - bound
    assert set(plan.pending) == waiting
    assert all(r.message for r in plan.pending.values())


def test_gpu_memory_request_is_sized_against_the_gpu_and_told_its_limit() -> None:
    plan = decide(
        snapshot(
            (node("n1", 1, memory_mib=16384),), ab, pending=[workload("m", "a", memory_mib=4096)]
        )
    )
    (b,) = plan.bindings
    assert b.assignment.gpu_milli == 250 and b.assignment.gpu_memory_limit_mib == 4096


def test_half_a_v100_is_told_16384_mib() -> None:
    plan = decide(snapshot(one, ab, pending=[workload("f", "a", fraction="0.5")]))
    (b,) = plan.bindings
    assert (b.assignment.gpu_milli, b.assignment.gpu_memory_limit_mib) == (500, 16384)


def test_fractions_in_a_stranding_order_still_pack_into_two_gpus() -> None:
    # Plain best-fit puts 0.3 beside 0.6, then 0.5+0.4 share a second GPU, and 0.2 needs a
    # third. Looking at what is still pending avoids the sliver: all five fit in two GPUs.
    sizes = ["0.6", "0.3", "0.5", "0.4", "0.2"]
    pending = [workload(f"f{i}", "a", fraction=f, submit=i) for i, f in enumerate(sizes)]
    plan = decide(snapshot((node("n1", 2),), tree(project("a", 2)), pending=pending))
    assert len(plan.bindings) == 5 and not plan.pending
    used = {b.assignment.gpu_indices for b in plan.bindings}
    assert used == {(0,), (1,)}


def test_a_nominated_workload_waits_for_terminating_victims_and_keeps_its_room() -> None:
    victim = run(workload("old", "b", 8), "n1")
    terminating = RunningWorkload(victim.workload, victim.assignments, 0, terminating=True)
    snap = Snapshot(
        one,
        ab,
        (terminating,),
        (workload("w", "a", 4), workload("x", "b", 1)),
        (),
        100,
        {"w": ("n1",)},
    )
    plan = decide(snap)
    assert not plan.bindings and not plan.evictions
    assert plan.nominated == {"w": ("n1",)}
    assert plan.pending["w"].code == ReasonCode.RECLAIMING
    assert "still terminating" in plan.pending["w"].message
