"""The victim search picks DESIGN §1.2's preferred set, checked against brute force.

Random small clusters hold running workloads (whole GPUs, fractions, gangs, priorities,
start times) of a victim project; a pending workload (one pod, or a gang) of another project
asks for room. Brute force tries every subset of the running workloads, keeps those that let
the pending one fit, and takes the best by the preference order: lowest highest-victim
priority, then fewest pods, then fewest GPUs, then most recently started. The exact search
must return exactly that set; the bounded search (a small `exact_limit`) must find room
whenever there is some, at the same highest priority, with a set that really makes room.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairshare.ledger import Holder, Ledger
from fairshare.model import PodAssignment, RunningWorkload, Workload
from fairshare.placement import Placer
from fairshare.preemption import Ask, VictimSearch, holder_of, score
from fairshare.victims import VictimIndex
from tests.builders import node, project, tree, workload

TREE = tree(project("r", 8), project("v", 0))
World = tuple[list, list[RunningWorkload], Workload]  # type: ignore[type-arg]


@st.composite
def worlds(draw: st.DrawFn, gang: bool = False) -> World:
    cluster = [node(f"n{i}", draw(st.integers(1, 4))) for i in range(draw(st.integers(2, 3)))]
    ledger = Ledger(cluster, TREE)
    placer = Placer(ledger)
    running: list[RunningWorkload] = []
    for i in range(draw(st.integers(2, 7))):
        fractional = draw(st.booleans())
        w = workload(
            f"v{i}",
            "v",
            0 if fractional else draw(st.integers(1, 2)),
            fraction=draw(st.sampled_from(["0.3", "0.5", "0.7"])) if fractional else None,
            pods=1 if fractional else draw(st.integers(1, 2)),
            priority=draw(st.integers(0, 2)),
        )
        placed = placer.place(w, None, Holder("v", False))
        if placed is not None:
            running.append(RunningWorkload(w, placed, draw(st.integers(0, 5))))
    pods = draw(st.integers(2, 3)) if gang else 1
    fractional = not gang and draw(st.booleans())
    pending = workload(
        "p",
        "r",
        0 if fractional else draw(st.integers(1, 3)),
        fraction="0.6" if fractional else None,
        pods=pods,
    )
    return cluster, running, pending


def _search(cluster: list, running: Sequence[RunningWorkload], limit: int) -> VictimSearch:  # type: ignore[type-arg]
    ledger = Ledger(sorted(cluster, key=lambda n: n.name), TREE)
    for r in running:
        for a in r.assignments:
            ledger.hold(a, holder_of(r))
    search = VictimSearch(ledger, Placer(ledger), exact_limit=limit)
    search.index = VictimIndex.build(list(running))
    return search


def _fits(cluster: list, running: Sequence[RunningWorkload], gone: set[str], w: Workload) -> bool:  # type: ignore[type-arg]
    search = _search(cluster, [r for r in running if r.workload.name not in gone], 0)
    return search.placer.place(w, None, Holder("r", False)) is not None


def _key(victims: Sequence[RunningWorkload]) -> tuple[object, ...]:
    return (max(v.workload.priority for v in victims), *score(victims))


def brute_force(
    cluster: list, running: Sequence[RunningWorkload], w: Workload  # type: ignore[type-arg]
) -> tuple[object, ...] | None:
    best = None
    for k in range(1, len(running) + 1):
        for subset in combinations(running, k):
            if _fits(cluster, running, {v.workload.name for v in subset}, w):
                key = _key(subset)
                best = key if best is None or key < best else best
    return best


def _found(world: World, limit: int) -> tuple[object, ...] | None:
    cluster, running, w = world
    search = _search(cluster, running, limit)
    found = search.find(w, None, Holder("r", False), Ask({"v"}), lambda _: True)
    if found is None:
        return None
    assert _fits(cluster, running, {v.workload.name for v in found.victims}, w)
    assert len(found.placement) == len(w.pods)
    return _key(found.victims)


def _needs_victims(world: World) -> bool:
    cluster, running, w = world
    return not _fits(cluster, running, set(), w)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_for_one_pod_the_exact_search_returns_the_preferred_set(world: World) -> None:
    if _needs_victims(world):
        assert _found(world, limit=16) == brute_force(*world)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(gang=True))
def test_for_a_gang_the_exact_search_returns_the_preferred_set(world: World) -> None:
    if _needs_victims(world):
        assert _found(world, limit=16) == brute_force(*world)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(worlds(), worlds(gang=True)))
def test_the_bounded_search_finds_room_whenever_the_exact_one_does(world: World) -> None:
    if not _needs_victims(world):
        return
    exact, bounded = _found(world, limit=16), _found(world, limit=2)
    assert (exact is None) == (bounded is None)
    if exact is not None and bounded is not None:
        assert bounded[0] == exact[0]  # the same highest victim priority
        assert bounded >= exact  # never better than the optimum: the exact one is exact


def test_the_preference_is_priority_then_pods_then_gpus_then_recency() -> None:
    old = RunningWorkload(workload("old", "v", 1), (PodAssignment("old", "n", (0,), 1000),), 0)
    new = RunningWorkload(workload("new", "v", 1), (PodAssignment("new", "n", (1,), 1000),), 9)
    gang = RunningWorkload(
        workload("gang", "v", 1, pods=2),
        (PodAssignment("gang-0", "n", (2,), 1000), PodAssignment("gang-1", "n", (3,), 1000)),
        9,
    )
    assert score([new]) < score([old]) < score([gang])
