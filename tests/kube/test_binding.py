"""Watch to bind through the real client: binds, conflicts forgotten and retried, deleted nodes,
terminating pods keeping their GPUs, other schedulers' pods counted as used."""

from __future__ import annotations

from scheduler.kube.loopback.server import LoopbackApiServer
from tests.kube.builders import eventually, node_obj, pod_obj
from tests.kube.conftest import Factory


def bound_node(api: LoopbackApiServer, key: str) -> str | None:
    namespace, name = key.split("/")
    pod = api.store.find("/pods", namespace, name)
    return (pod or {}).get("spec", {}).get("nodeName")


def test_list_and_watch_feed_the_cache_and_pending_pods_bind(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    apiserver.put("/pods", pod_obj("before"), "team-a")  # seen by the list
    live = scheduler(nodes=2)
    apiserver.put("/pods", pod_obj("after", gpus=2), "team-a")  # seen by the watch
    eventually(lambda: len(live.cache.pods.items) == 2, what="the watch to show both pods")
    live.cycle()
    live.executor.drain()
    assert bound_node(apiserver, "team-a/before") and bound_node(apiserver, "team-a/after")
    events = apiserver.store.query("events.k8s.io/events", "team-a", lambda _: True)
    eventually(
        lambda: (
            len(
                apiserver.store.query(
                    "events.k8s.io/events", "team-a", lambda e: e["reason"] == "Scheduled"
                )
            )
            == 2
        )
    )
    assert all(e["reportingController"] == "quotient.io/scheduler" for e in events)


def test_the_same_pod_name_in_two_namespaces_is_two_pods(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", pod_obj("twin", "team-a"), "team-a")
    apiserver.put("/pods", pod_obj("twin", "team-b"), "team-b")
    eventually(lambda: len(live.cache.pods.items) == 2)
    report = live.cycle()
    assert report is not None
    assert sorted(b.assignment.pod for b in report.plan.bindings) == ["team-a/twin", "team-b/twin"]
    live.executor.drain()
    assert bound_node(apiserver, "team-a/twin") and bound_node(apiserver, "team-b/twin")


def test_a_bind_that_conflicts_is_forgotten_and_retried_next_cycle(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", pod_obj("p"), "team-a")
    eventually(lambda: live.cache.pods.items)
    apiserver.inject("POST", r"/pods/p/binding$", 409)
    live.cycle()
    live.executor.drain()
    assert bound_node(apiserver, "team-a/p") is None
    assert len(live.assumed) == 0, "a failed bind is not assumed any more"
    assert live.metrics.counters["bind_failures"]._value.get() == 1

    def retried() -> bool:
        # A later cycle binds it; on a loaded machine the first retry may meet the watch
        # still catching up, so a few cycles are allowed, never a second failure.
        live.cycle()
        live.executor.drain()
        return bound_node(apiserver, "team-a/p") == "node-1"

    eventually(retried, what="the retried bind")
    assert live.metrics.counters["bind_failures"]._value.get() == 1


def test_a_pod_bound_by_someone_else_meanwhile_is_not_bound_twice(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=2)
    apiserver.put("/pods", pod_obj("p"), "team-a")
    eventually(lambda: live.cache.pods.items)
    state = live.cache.cluster_state()
    apiserver.rules.bind("team-a", "p", {"metadata": {"name": "p"}, "target": {"name": "node-2"}})
    live.cycle()  # the cache may not show it yet: the API answers 409 and nothing changes
    live.executor.drain()
    assert state.pending and bound_node(apiserver, "team-a/p") == "node-2"
    binds = [r for r in apiserver.requests if r[1].endswith("/binding")]
    assert len(binds) <= 1


def test_a_node_deleted_mid_cycle_gets_no_pod(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", pod_obj("p"), "team-a")
    eventually(lambda: live.cache.pods.items)
    state = live.cache.cluster_state()
    assert [n.name for n in state.nodes] == ["node-1"]
    apiserver.store.delete("/nodes", "", "node-1")
    eventually(lambda: not live.cache.node_exists("node-1"))
    live.cache.cluster_state = lambda: state  # type: ignore[method-assign]  # decided on the old view
    report = live.cycle()
    assert report is not None and report.result.failed_bindings == {
        "team-a/p": "node node-1 is gone"
    }
    assert bound_node(apiserver, "team-a/p") is None


def test_other_schedulers_pods_and_terminating_pods_keep_their_gpus(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    apiserver.rules.grace_seconds = 60  # deleted pods stay terminating
    apiserver.put("/nodes", node_obj("node-1", gpus=4))
    apiserver.put(
        "/pods", pod_obj("theirs", gpus=2, scheduler="default-scheduler", node="node-1"), "team-b"
    )
    apiserver.put("/pods", pod_obj("old", gpus=2, node="node-1"), "team-a")
    apiserver.rules.delete_pod("team-a", "old")  # terminating: its 2 GPUs are still held
    live = scheduler()
    apiserver.put("/pods", pod_obj("new", gpus=1), "team-a")
    eventually(lambda: "team-a/new" in live.cache.pods.items)
    report = live.cycle()
    assert report is not None and not report.plan.bindings
    assert "team-a/new" in report.plan.pending
    apiserver.store.delete("/pods", "team-a", "old")  # the kubelet is done with it
    eventually(lambda: "team-a/old" not in live.cache.pods.items)
    report = live.cycle()
    assert report is not None and [b.assignment.pod for b in report.plan.bindings] == ["team-a/new"]


def test_a_pod_recreated_under_the_same_name_is_not_bound_by_an_old_decision(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", pod_obj("p"), "team-a")
    eventually(lambda: live.cache.pods.items)
    state = live.cache.cluster_state()
    apiserver.store.delete("/pods", "team-a", "p")
    new_uid = apiserver.put("/pods", pod_obj("p"), "team-a")["metadata"]["uid"]
    eventually(lambda: live.cache.pod("team-a/p")["metadata"]["uid"] == new_uid)
    live.cache.cluster_state = lambda: state  # type: ignore[method-assign]  # the old pod's view
    live.cycle()
    live.executor.drain()
    assert bound_node(apiserver, "team-a/p") is None, "the binding named the old pod's uid"
    assert live.metrics.counters["bind_failures"]._value.get() == 1
