"""Two replicas, one Lease: exactly one binds; a successor takes over within the lease
duration (at once when the leader hands the lease back) and rebinds nothing."""

from __future__ import annotations

from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.run import LiveScheduler
from tests.kube.builders import eventually, pod_obj
from tests.kube.conftest import Factory
from tests.kube.test_resilience import binding_posts

FAST = {"leader_elect": True, "lease_seconds": 1.5, "renew_deadline": 1.0, "retry_period": 0.1}


def _pair(scheduler: Factory) -> tuple[LiveScheduler, LiveScheduler]:
    a = scheduler(nodes=2, identity="replica-a", **FAST)
    eventually(a.is_leader, what="replica-a to take the free lease")
    b = scheduler(identity="replica-b", **FAST)
    return a, b


def _both_cycle(*replicas: LiveScheduler) -> None:
    for r in replicas:
        r.cycle()
        r.executor.drain()


def _lease_holder(api: LoopbackApiServer) -> str | None:
    lease = api.store.find("coordination.k8s.io/leases", "quotient-system", "quotient-scheduler")
    return (lease or {}).get("spec", {}).get("holderIdentity")


def test_of_two_replicas_only_the_leader_binds(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    a, b = _pair(scheduler)
    for name in ("p1", "p2"):
        apiserver.put("/pods", pod_obj(name), "team-a")
    eventually(lambda: len(b.cache.pods.items) == 2 and len(a.cache.pods.items) == 2)
    report = b.cycle()
    assert report is not None and not report.result.bound, "a follower binds nothing"
    _both_cycle(a, b)
    assert _lease_holder(apiserver) == "replica-a" and not b.is_leader()
    assert len(binding_posts(apiserver)) == 2


def test_a_leader_that_stops_hands_over_at_once_and_nothing_is_rebound(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    a, b = _pair(scheduler)
    apiserver.put("/pods", pod_obj("before"), "team-a")
    eventually(lambda: "team-a/before" in a.cache.pods.items)
    _both_cycle(a, b)
    a.shutdown()  # SIGTERM: the lease is released, not left to expire
    assert _lease_holder(apiserver) is None
    eventually(b.is_leader, timeout=1.4, what="replica-b to take the lease before it expires")
    apiserver.put("/pods", pod_obj("after"), "team-a")
    eventually(lambda: "team-a/after" in b.cache.pods.items)
    _both_cycle(b)
    eventually(lambda: b.cache.cluster_state().pending == ())
    assert sorted(binding_posts(apiserver)) == [
        "/api/v1/namespaces/team-a/pods/after/binding",
        "/api/v1/namespaces/team-a/pods/before/binding",
    ]


def test_a_leader_that_vanishes_is_replaced_within_the_lease_duration(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    a, b = _pair(scheduler)
    a.stop_event.set()  # its elector stops renewing, as a crashed or partitioned replica
    eventually(lambda: not a.is_leader(), timeout=3.0, what="the old leader to fence itself")
    eventually(b.is_leader, timeout=5.0, what="replica-b to take the expired lease")
    assert _lease_holder(apiserver) == "replica-b"
