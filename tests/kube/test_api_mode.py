"""`quotient run --api`: the quota tree comes from the REST API over HTTP, each cycle's status
goes back to it, and while the API is down the last good tree is kept and said so."""

from __future__ import annotations

import httpx
import pytest

from fairshare.model import Policy
from scheduler.api_client import HttpQuotaSource, StatusReporter
from scheduler.kube.config import loopback_client
from scheduler.kube.fractional import ReservationSpec
from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.run import LiveScheduler, RunConfig
from tests.api.conftest import (  # noqa: F401  (fixtures)
    TOKENS,
    LiveServer,
    app,
    db_url,
    live,
    pg_schema,
    project,
    settings,
)
from tests.api.helpers import ADMIN
from tests.kube.builders import eventually, node_obj, pod_obj


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the API's storage is not under test here


def test_status_reaches_the_api_and_the_last_good_tree_outlives_an_outage(
    apiserver: LoopbackApiServer,
    live: LiveServer,  # noqa: F811
) -> None:
    with httpx.Client(base_url=live.url, headers=ADMIN) as admin:
        assert (
            admin.post("/api/v1/projects", json=project("team-a", deserved_gpus=4)).status_code
            == 201
        )
    quotas = HttpQuotaSource(live.url, TOKENS["scheduler"], timeout_s=1)
    config = RunConfig(
        leader_elect=False, metrics_port=None, reservation=ReservationSpec(uuid_timeout_seconds=1)
    )
    sched = LiveScheduler(
        loopback_client(apiserver.url),
        quotas,
        Policy(),
        config,
        observers=[StatusReporter(live.url, TOKENS["scheduler"])],
        quota_stale=lambda: quotas.stale,
    )
    apiserver.put("/nodes", node_obj("node-1"))
    apiserver.put("/pods", pod_obj("p1"), "team-a")
    sched.start()
    try:
        eventually(lambda: sched.cache.wait_synced(5) and sched.cache.pods.items)
        sched.cycle()
        with httpx.Client(base_url=live.url, headers=ADMIN) as reader:
            status = reader.get("/api/v1/status").json()
        team_a = next(p for p in status["projects"] if p["name"] == "team-a")
        assert team_a["allocated_gpus"] in ("1", 1, 1.0, "1.0")
        live.stop()  # the API goes away
        apiserver.put("/pods", pod_obj("p2"), "team-a")
        eventually(lambda: "team-a/p2" in sched.cache.pods.items)
        report = sched.cycle()
        assert report is not None and [b.assignment.pod for b in report.plan.bindings] == [
            "team-a/p2"
        ]
        assert quotas.stale and sched.metrics.quota_stale._value.get() == 1
    finally:
        sched.shutdown()
