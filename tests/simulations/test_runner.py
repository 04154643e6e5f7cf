"""The runner drives the real scheduling loop (and the real core) on the virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from simulations.cluster import State
from simulations.result import to_document
from tests.simulations.builders import Doc, one_node, run, scenario, wl


def small(*workloads: Doc, **top: Any) -> Doc:
    """One 4-GPU node; team-a and team-b deserve 2 each."""
    doc = scenario(*workloads, **top)
    doc["cluster"] = one_node(4)
    for p in doc["projects"]:
        p["deserved_gpus"] = 2
    return doc


def test_a_workload_with_a_duration_finishes_and_frees_its_gpus() -> None:
    r = run(small(wl("a-1", gpus=2, duration=50)))
    a = r.final.workloads["a-1"]
    assert (a.state, a.started_at, a.ended_at) == (State.FINISHED, 0, 50)
    assert [(p.at, p.allocated_milli["team-a"]) for p in r.timeline] == [(0, 2000), (50, 0)]
    assert r.utilization == 0.25  # 2 of 4 GPUs for half of the run


def test_queued_work_starts_the_moment_gpus_are_freed() -> None:
    r = run(small(wl("a-1", gpus=4, duration=30), wl("a-2", gpus=4)))
    assert r.final.workloads["a-2"].started_at == 30


def test_a_run_time_limit_stops_the_workload_just_after_it_is_passed() -> None:
    doc = small(wl("a-1", gpus=1), until=300)
    doc["projects"][0]["max_training_seconds"] = 100
    r = run(doc)
    a = r.final.workloads["a-1"]
    assert (a.state, a.ended_at) == (State.FINISHED, 101)
    assert a.reason is not None and a.reason.code == "RunTimeLimitExceeded"
    assert [(e.at, e.workload, e.reason.value) for e in r.evictions] == [
        (101, "a-1", "RunTimeLimitExceeded")
    ]


def borrowing(b2_duration: int | None = None, a_duration: int | None = None, **top: Any) -> Doc:
    """team-b borrows 2 GPUs beyond its deserved 2 (b-2 starts last); at t=10 team-a asks for
    its deserved 2, so exactly one 2-GPU workload of team-b is reclaimed."""
    return small(
        wl("b-1", "team-b", gpus=2),
        wl("b-2", "team-b", gpus=2, submit_at=1, duration=b2_duration),
        wl("a-1", gpus=2, submit_at=10, duration=a_duration),
        **{"until": 600, **top},
    )


@pytest.mark.parametrize(
    ("min_runtime", "evicted_at", "victim"),
    [
        pytest.param(
            0, 10, "b-2", id="without a minimum run time borrowed GPUs are reclaimed at once"
        ),
        pytest.param(
            300, 300, "b-1", id="a reclaim blocked by min_runtime happens on a later cycle"
        ),
    ],
)
def test_reclaim_waits_for_the_minimum_run_time(
    min_runtime: int, evicted_at: int, victim: str
) -> None:
    r = run(borrowing(policy={"min_runtime_seconds": min_runtime}))
    assert [(e.at, e.workload) for e in r.evictions] == [(evicted_at, victim)]
    assert r.final.workloads["a-1"].started_at == evicted_at


def test_an_evicted_workload_runs_its_whole_duration_again() -> None:
    doc = borrowing(b2_duration=100, a_duration=50, until=300)
    b = run(doc).final.workloads["b-2"]
    # evicted at 10; a-1 runs 10..60; b-2 starts over at 60 and runs its full 100 s
    assert (b.evictions, b.started_at, b.ended_at, b.state) == (1, 60, 160, State.FINISHED)


def test_periodic_cycles_run_only_while_something_is_pending() -> None:
    settled = run(small(wl("a-1", gpus=2)))
    assert settled.cycles == 1
    doc = small(wl("a-1", gpus=2), until=100)
    doc["projects"][0]["limit_gpus"] = 3
    doc["workloads"].append(wl("a-2", gpus=2))  # over the limit: waits forever
    waiting = run(doc)
    # t=0 binds a-1; t=10 finds nothing to do; from then on nothing can change, so the
    # periodic cycles up to until=100 are skipped (test_skipping replays both ways).
    assert waiting.cycles == 2
    reason = waiting.final.workloads["a-2"].reason
    assert reason is not None and reason.code == "OverLimit" and "limit" in reason.message


def test_deleting_a_pending_workload_ends_its_wait() -> None:
    doc = small(wl("a-1", gpus=8 // 2, delete_at=50), wl("a-2", gpus=4), until=100)
    r = run(doc)
    assert r.final.workloads["a-1"].state == State.DELETED
    assert r.final.workloads["a-2"].state == State.RUNNING
    assert r.final.workloads["a-2"].started_at == 50


EXPECTATIONS = [
    pytest.param({"at": 10, "projects": {"team-a": {"allocated_gpus": 2, "running": 1}}}, True,
                 id="an allocation that holds passes"),
    pytest.param({"at": 10, "projects": {"team-a": {"allocated_gpus": 3}}}, False,
                 id="an allocation that does not hold fails"),
    pytest.param({"at": 10, "workloads": {"b-2": {"state": "pending", "evictions": 1}}}, True,
                 id="a workload's state and eviction count are checked"),
    pytest.param({"between": [10, 10], "evictions": {"team-b": 1, "team-a": 0}}, True,
                 id="a window includes both of its ends"),
    pytest.param({"after": 10, "evictions": 0}, True,
                 id="after a time means strictly later"),
    pytest.param({"after": 9, "evictions": 1, "evicted": ["b-2"]}, True,
                 id="an eviction in the window is counted and named"),
    pytest.param({"between": [0, 600], "evictions_by_type": {"train": 0}}, False,
                 id="evictions are counted by workload type"),
    pytest.param({"between": [0, 600], "not_evicted": ["b-2"]}, False,
                 id="a workload that must not be evicted but was fails"),
]  # fmt: skip


@pytest.mark.parametrize(("expect", "holds"), EXPECTATIONS)
def test_expectations_are_checked_at_their_time_or_over_their_window(
    expect: Doc, holds: bool
) -> None:
    r = run(borrowing(expect=[expect]))
    assert r.checks and r.passed is holds, [c.message for c in r.checks]


def test_a_failed_expectation_says_what_was_expected_and_what_was_found() -> None:
    expect = {"at": 0, "note": "a gets 3", "projects": {"team-a": {"allocated_gpus": 3}}}
    doc = small(wl("a-1", gpus=2), expect=[expect])
    (check,) = run(doc).failed_checks
    assert check.message == (
        "expect[0] (at 0: a gets 3): projects.team-a.allocated_gpus: expected 3, got 2 [FAILED]"
    )
    document = to_document(run(doc))
    assert document["expectations"] == {
        "passed": False, "total": 1, "failed": 1,
        "checks": [{"entry": "expect[0]", "when": "at 0: a gets 3",
                    "check": "projects.team-a.allocated_gpus", "expected": 3.0, "actual": 2.0,
                    "passed": False, "detail": None, "message": check.message}],
    }  # fmt: skip
