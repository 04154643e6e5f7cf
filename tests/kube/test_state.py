"""Sorting watched pods into the core's snapshot: gangs, projects, foreign usage, and the
virtual GPU numbering (a property: no two holders ever share a whole GPU)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fairshare.model import ReasonCode
from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.state import RESERVATION_LABEL, RESERVATION_NOTE, Inputs, build
from scheduler.kube.translate import to_node, to_pod
from tests.builders import project, tree
from tests.kube.builders import eventually, node_obj, pod_obj
from tests.kube.conftest import Factory


def test_a_gang_binds_whole_or_waits_for_its_members(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=2)
    gang = {"quotient.io/gang": "job", "quotient.io/gang-size": "3"}
    for i in range(2):
        apiserver.put("/pods", pod_obj(f"w{i}", gpus=4, annotations=gang), "team-a")
    eventually(lambda: len(live.cache.pods.items) == 2)
    report = live.cycle()
    assert (
        report is not None and report.plan.pending["team-a/job"].code == ReasonCode.GANG_INCOMPLETE
    )
    apiserver.put("/pods", pod_obj("w2", gpus=4, annotations=gang), "team-a")
    eventually(lambda: len(live.cache.pods.items) == 3)
    report = live.cycle()
    assert report is not None and {b.workload for b in report.plan.bindings} == {"team-a/job"}
    assert len(report.plan.bindings) == 3


def test_a_namespace_that_is_no_project_waits_with_project_not_found(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(tree(project("team-a", 1)), nodes=1)
    apiserver.put("/pods", pod_obj("p"), "team-b")
    eventually(lambda: live.cache.pods.items)
    report = live.cycle()
    assert report is not None
    assert report.plan.pending["team-b/p"].code == ReasonCode.PROJECT_NOT_FOUND


def test_other_schedulers_pods_hold_cpu_and_memory_too(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    apiserver.put("/nodes", node_obj("node-1", cpu="4"))
    apiserver.put("/pods", pod_obj("theirs", gpus=None, cpu="3500m", scheduler="other",
                                   node="node-1"), "team-b")  # fmt: skip
    live = scheduler()
    apiserver.put("/pods", pod_obj("mine", gpus=1, cpu="1"), "team-a")
    eventually(lambda: len(live.cache.pods.items) == 2)
    report = live.cycle()
    assert report is not None and not report.plan.bindings
    assert live.cache.cluster_state().foreign[0].cpu_milli == 3500


# ------------------------------------------------------------- numbering property


def _bound(name: str, ask: tuple[str, int], node: str = "n", reservation: str = "") -> Any:
    kind, amount = ask
    notes = {RESERVATION_NOTE: reservation} if reservation else {}
    if kind == "whole":
        pod = pod_obj(name, gpus=amount, node=node)
    else:
        pod = pod_obj(name, gpus=None, node=node,
                      annotations={"gpu-fraction": f"0.{amount}", **notes})  # fmt: skip
    if kind == "foreign":
        pod = pod_obj(name, gpus=amount, node=node, scheduler="other")
    pod["metadata"].update(uid=name, creationTimestamp="2026-01-01T00:00:00Z")
    return pod


def _reservation(name: str) -> Any:
    pod = pod_obj(name, "quotient-system", gpus=1, node="n", scheduler="default-scheduler",
                  labels={RESERVATION_LABEL: "true"})  # fmt: skip
    pod["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    return pod


holders = st.lists(
    st.one_of(
        st.tuples(st.just("whole"), st.integers(1, 3)),
        st.tuples(st.just("foreign"), st.integers(1, 2)),
        st.tuples(st.just("fraction"), st.integers(1, 4)),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(holders, st.integers(1, 3))
def test_virtual_gpu_indices_never_double_book_a_gpu(
    asks: list[tuple[str, int]], shared: int
) -> None:
    pods = [_reservation(f"r{i}") for i in range(shared)]
    for i, ask in enumerate(asks):
        pods.append(_bound(f"p{i}", ask, reservation=f"quotient-system/r{i % shared}"))
    state, gpu_map = build(Inputs(
        nodes=[to_node(node_obj("n", 32))], pods=pods, facts=lambda p: to_pod(p, None),
        scheduler_name="quotient", namespace="quotient-system", in_flight={},
    ))  # fmt: skip
    foreign = sum(u.gpus for u in state.foreign)
    whole: list[int] = []
    by_index: dict[int, set[str]] = {}
    for r in state.running:
        for a in r.assignments:
            assert all(i >= foreign for i in a.gpu_indices), "foreign GPUs come first"
            if a.gpu_memory_limit_mib is None:
                whole.extend(a.gpu_indices)
            else:
                by_index.setdefault(a.gpu_indices[0], set()).add(a.pod)
    assert len(whole) == len(set(whole)), "no whole GPU is held twice"
    assert not set(whole) & set(by_index), "a shared GPU is nobody's whole GPU"
    assert len(set(gpu_map.shared.values())) == len(gpu_map.shared), "one index per reservation"
