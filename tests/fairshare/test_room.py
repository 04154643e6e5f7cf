"""Making room (issue 7): who is evicted, who may not be placed, and what the reason says.

Each case is a sentence: the cluster, the quota tree and the workloads it starts from, and
what one cycle's plan must say (bindings per node, evictions with their reason, pending
reasons with a phrase their message must contain).
"""

from __future__ import annotations

import pytest

from fairshare.decide import decide
from fairshare.model import Policy, ReasonCode, RunningWorkload
from tests.builders import department, node, project, snapshot, tree, workload
from tests.fairshare.cycle_cases import Case, check_plan, run

A40, A80 = 40960, 81920


def ran(name: str, project: str, gpus: int, on: str, idx: tuple[int, ...], at: int = 0,
        **kw: object) -> RunningWorkload:  # fmt: skip
    return run(workload(name, project, gpus, **kw), on, at, idx)  # type: ignore[arg-type]


CASES = [
    pytest.param(
        Case(
            snapshot(
                [node("big", 1, memory_mib=A80), node("small", 1, memory_mib=A40)],
                tree(project("a", 1, limit="0.25")),
                pending=[workload("m", "a", memory_mib=20000)],
            ),
            placed_on={"m": "big"},
        ),
        id="a GPU-memory request goes where its share of the GPU stays within the limit",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n", 2)],
                tree(project("a", 1, limit=1)),
                pending=[workload("w", "a", 1), workload("x", "a", 1, submit=1)],
            ),
            placed_on={"w": "n"},
            pending={"x": (ReasonCode.OVER_LIMIT, "at its limit of 1 GPU (holds 1")},
        ),
        id="a limit of one GPU is written in the singular",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n", 8)], tree(project("a", 4, limit=4)), pending=[workload("w", "a", 5)]
            ),
            pending={"w": (ReasonCode.OVER_LIMIT, "can never run: it needs 5 GPUs and project a")},
        ),
        id="a workload bigger than its project's limit is told it can never run and why",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n", 8)],
                tree(
                    project("a", 4, department="d"),
                    project("b", 4, department="d"),
                    departments=[department("d", 2)],
                ),
                running=[ran("b-np", "b", 2, "n", (0, 1), type="interactive")],
                pending=[workload("a-np", "a", 1, type="interactive")],
            ),
            pending={"a-np": (ReasonCode.OVER_DESERVED, "deserved 2 of department d")},
        ),
        id="non-preemptible work is capped at the deserved quota of every department above",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n", 2)],
                tree(project("a", 2, limit=1)),
                running=[ran("t", "a", 1, "n", (0,))],
                pending=[workload("hi", "a", 1, priority=10, submit=1)],
                now=10,
            ),
            evicted={"t": ReasonCode.PREEMPTED},
            pending={"hi": (ReasonCode.RECLAIMING, "preempting 1 workload of a")},
        ),
        id="a project at its limit preempts its own lower-priority work",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n1", 2), node("n2", 2)],
                tree(project("a", 2), project("b", 2)),
                running=[ran("a-1", "a", 1, "n1", (0,)), ran("a-2", "a", 1, "n2", (0,), at=1)],
                pending=[workload("b-1", "b", 2, submit=5)],
                now=10,
            ),
            evicted={"a-2": ReasonCode.MOVED},
            pending={"b-1": (ReasonCode.RECLAIMING, "moving 1 workload of a to make room")},
        ),
        id="below its deserved quota on a fragmented cluster, a pod is moved to make the block",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n", 4)],
                tree(project("a", 0, weight=1), project("b", 2), project("c", 2)),
                running=[ran("a-4", "a", 4, "n", (0, 1, 2, 3))],
                pending=[workload("b-2", "b", 2, submit=5), workload("c-2", "c", 2, submit=5)],
                now=10,
            ),
            evicted={"a-4": ReasonCode.RECLAIMED},
            pending={"c-2": (ReasonCode.RECLAIMING, "room freed by this cycle's evictions")},
        ),
        id="room a reclaim frees beyond its need is used before anyone else is evicted",
    ),
    pytest.param(
        Case(
            snapshot(
                [node("n1", 5), node("n2", 5)],
                tree(project("a", 0, weight=1), project("b", 4, weight=1)),
                running=[
                    ran("a-1", "a", 3, "n1", (0, 1, 2)),
                    ran("a-2", "a", 3, "n2", (0, 1, 2)),
                    ran("b-1", "b", 1, "n1", (3,)),
                ],
                pending=[workload("a-3", "a", 3, submit=5), workload("b-2", "b", 3, submit=5)],
                now=10,
            ),
            policy=Policy(min_runtime_seconds=100),
            pending={"a-3": (ReasonCode.OVER_FAIR_SHARE, "3 GPUs sit idle but scattered")},
        ),
        id="a project over its share blocked by scattered idle GPUs is told they are scattered",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_making_room(case: Case) -> None:
    check_plan(case)


def test_an_eviction_names_what_its_project_held_before_the_move() -> None:
    snap = snapshot(
        [node("n", 3)],
        tree(project("a", 0, weight=1), project("b", 2, weight=1)),
        running=[
            ran("a-1", "a", 1, "n", (0,)),
            ran("a-2", "a", 1, "n", (1,), at=1),
            ran("a-3", "a", 1, "n", (2,), at=2),
        ],
        pending=[workload("b-1", "b", 2, submit=5)],
        now=10,
    )
    plan = decide(snap)
    assert {e.workload for e in plan.evictions} == {"a-2", "a-3"}
    assert all("a held 3 GPUs" in e.message and e.by == "b-1" for e in plan.evictions)
