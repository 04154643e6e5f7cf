"""The cache across API server trouble: a restart mid-watch, a forced 410, bookmarks.

Never lose, double-bind or forget a pod: every pod ends bound exactly once."""

from __future__ import annotations

import time

from scheduler.kube.loopback.server import LoopbackApiServer
from tests.kube.builders import eventually, pod_obj
from tests.kube.conftest import Factory


def binding_posts(api: LoopbackApiServer) -> list[str]:
    return [path for method, path in api.requests if method == "POST" and path.endswith("/binding")]


def test_an_apiserver_restart_mid_watch_loses_and_double_binds_nothing(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=2)
    apiserver.put("/pods", pod_obj("a"), "team-a")
    eventually(lambda: "team-a/a" in live.cache.pods.items)
    live.cycle()
    live.executor.drain()
    apiserver.stop()  # every watch is cut; the store (etcd) keeps its state
    apiserver.put("/pods", pod_obj("b"), "team-a")  # created while the API was away
    apiserver.store.compact()  # and the history the watches stood on is gone: 410 on resume
    time.sleep(0.3)
    assert "team-a/a" in live.cache.pods.items, "the cache keeps its view while the API is away"
    apiserver.start()
    eventually(lambda: "team-a/b" in live.cache.pods.items, timeout=10, what="relist after 410")
    assert live.cache.pods.relists >= 2 and live.cache.pods.errors >= 1
    live.cycle()
    live.executor.drain()
    eventually(lambda: live.cache.cluster_state().pending == ())
    assert sorted(binding_posts(apiserver)) == [
        "/api/v1/namespaces/team-a/pods/a/binding",
        "/api/v1/namespaces/team-a/pods/b/binding",
    ]


def test_a_forced_410_relists_and_the_cache_still_sees_everything(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    before = live.cache.pods.relists
    apiserver.store.compact()
    apiserver.stop()  # cut the watch so it resumes from a revision that is now gone
    apiserver.start()
    apiserver.put("/pods", pod_obj("late"), "team-a")
    eventually(lambda: live.cache.pods.relists > before, timeout=10, what="a relist")
    eventually(lambda: "team-a/late" in live.cache.pods.items)


def test_bookmarks_move_the_watch_forward_without_events(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    start = int(live.cache.pods._rv)
    apiserver.put("/nodes", {"metadata": {"name": "other"}, "spec": {}, "status": {}})
    eventually(lambda: int(live.cache.pods._rv) > start, what="a bookmark on the pod watch")
    assert not live.cache.pods.items
