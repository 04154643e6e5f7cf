"""The loop's AssumeCache keyed as the live scheduler names pods: "namespace/name"."""

from __future__ import annotations

from fairshare.model import Binding, PodAssignment
from scheduler.assume import AssumeCache
from scheduler.ports import ClusterState
from tests.builders import node, workload


def _bind(pod: str) -> Binding:
    return Binding(pod, "team-a", PodAssignment(pod, "n1", (0,), 1000))


def test_the_same_name_in_two_namespaces_is_two_assumed_pods_and_forget_drops_one() -> None:
    a, b = workload("team-a/p", "team-a", 1), workload("team-b/p", "team-b", 1)
    state = ClusterState(nodes=(node("n1"),), pending=(a, b))
    cache = AssumeCache()
    cache.assume((_bind("team-a/p"), _bind("team-b/p")), now=0)
    assert len(cache) == 2
    cache.forget("team-a/p")  # its bind failed: decided afresh
    seen = cache.overlay(state, now=1)
    assert [w.name for w in seen.pending] == ["team-a/p"]
    assert [r.workload.name for r in seen.running] == ["team-b/p"]
