"""Reclaim through the Eviction API: budgets hold, a refusal spares the pod and says so,
an evicted pod is told who reclaimed it and why, and nothing is ever force-deleted."""

from __future__ import annotations

from typing import Any

from scheduler.kube.loopback.server import LoopbackApiServer
from tests.builders import project, tree
from tests.kube.builders import eventually, node_obj, pod_obj
from tests.kube.conftest import Factory


def running(api: LoopbackApiServer, name: str, ns: str = "team-b", gpus: int = 1) -> None:
    api.put("/pods", pod_obj(name, ns, gpus=gpus, node="node-1", labels={"app": "b"}), ns)
    api.store.mutate("/pods", ns, name, lambda p: p["status"].update({"phase": "Running"}))


def events(api: LoopbackApiServer, ns: str, reason: str) -> list[dict[str, Any]]:
    return api.store.query("events.k8s.io/events", ns, lambda e: e["reason"] == reason)


def condition(api: LoopbackApiServer, ns: str, name: str) -> dict[str, Any]:
    pod = api.store.find("/pods", ns, name) or {}
    found = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    return found[0] if found else {}


def setup(api: LoopbackApiServer, scheduler: Factory, budget: bool) -> Any:
    api.put("/nodes", node_obj("node-1", gpus=2))
    for name in ("b1", "b2"):
        running(api, name)
    if budget:
        pdb = {
            "metadata": {"name": "b-all"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "b"}}},
        }
        api.put("policy/poddisruptionbudgets", pdb, "team-b")
    live = scheduler(tree(project("team-a", 2), project("team-b", 0)))
    api.put("/pods", pod_obj("a", gpus=2), "team-a")
    eventually(lambda: len(live.cache.pods.items) == 3)
    return live


def test_an_eviction_refused_by_a_budget_spares_the_pod_and_the_reason_says_so(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = setup(apiserver, scheduler, budget=True)
    report = live.cycle()
    assert report is not None and report.plan.evictions, "team-a reclaims its deserved GPUs"
    assert report.result.failed_evictions, "the budget refused"
    assert live.metrics.counters["evictions_refused"]._value.get() >= 1
    live.cycle()  # refused pods are no victims now: the reclaim waits and says why
    live.executor.drain()
    message = eventually(lambda: condition(apiserver, "team-a", "a").get("message"))
    assert "refused by a PodDisruptionBudget" in message
    assert eventually(lambda: events(apiserver, "team-b", "EvictionRefused"))
    assert not [p for m, p in apiserver.requests if m == "DELETE" and "/pods/" in p]
    assert apiserver.store.find("/pods", "team-b", "b1") is not None


def test_an_evicted_pod_is_told_who_reclaimed_it_and_the_claimant_binds(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = setup(apiserver, scheduler, budget=False)
    live.cycle()
    note = eventually(lambda: events(apiserver, "team-b", "Reclaimed"))[0]["note"]
    assert "evicted by quotient" in note and "team-a" in note
    assert not [p for m, p in apiserver.requests if m == "DELETE" and "/pods/" in p]
    eventually(lambda: len(live.cache.pods.items) == 1)
    live.cycle()
    live.executor.drain()
    assert apiserver.store.find("/pods", "team-a", "a")["spec"]["nodeName"] == "node-1"


def test_a_pending_pod_gets_one_failed_scheduling_event_per_reason_change(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", pod_obj("big", gpus=16), "team-a")
    eventually(lambda: live.cache.pods.items)
    for _ in range(3):
        live.cycle()
    live.executor.drain()
    c = eventually(lambda: condition(apiserver, "team-a", "big"))
    assert c["status"] == "False" and c["reason"] == "NoMatchingNode"
    eventually(lambda: events(apiserver, "team-a", "FailedScheduling"))
    live.reporter.close()
    assert len(events(apiserver, "team-a", "FailedScheduling")) == 1
