"""Fixtures: a loopback apiserver per test, and a live scheduler wired to it.

The scheduler runs its real adapters and the real `kubernetes` client over HTTP; only the
quota source is a fixed tree (our own port). Cycles are driven one at a time by the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fairshare.model import Policy
from fairshare.quota_tree import QuotaTree
from scheduler.kube.bench import FixedQuota
from scheduler.kube.config import loopback_client
from scheduler.kube.fractional import ReservationSpec
from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.run import LiveScheduler, RunConfig
from tests.builders import project, tree
from tests.kube.builders import node_obj, ns_obj


@pytest.fixture
def apiserver() -> Iterator[LoopbackApiServer]:
    server = LoopbackApiServer(bookmark_seconds=0.2).start()
    server.put("/namespaces", ns_obj("quotient-system"))
    server.put("/namespaces", ns_obj("team-a"))
    server.put("/namespaces", ns_obj("team-b"))
    yield server
    server.close()


Factory = Callable[..., LiveScheduler]


@pytest.fixture
def scheduler(apiserver: LoopbackApiServer) -> Iterator[Factory]:
    made: list[LiveScheduler] = []

    def make(
        quota: QuotaTree | None = None,
        *,
        nodes: int = 0,
        policy: Policy | None = None,
        start: bool = True,
        **config: object,
    ) -> LiveScheduler:
        for i in range(1, nodes + 1):
            apiserver.put("/nodes", node_obj(f"node-{i}"))
        settings = {
            "leader_elect": False,
            "metrics_port": None,
            "watch_seconds": 5,
            "reservation": ReservationSpec(uuid_timeout_seconds=2, idle_grace_seconds=0),
            **config,
        }
        live = LiveScheduler(
            loopback_client(apiserver.url),
            FixedQuota(quota or tree(project("team-a", 8), project("team-b", 8))),
            policy or Policy(),
            RunConfig(**settings),  # type: ignore[arg-type]
        )
        made.append(live)
        if start:
            live.start()
            assert live.cache.wait_synced(5)
        return live

    yield make
    for live in made:
        live.shutdown()
