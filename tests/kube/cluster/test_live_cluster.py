"""Opt-in: the live scheduler against a real cluster named by KUBECONFIG (`pytest -m cluster`).

`scripts/kind-e2e.sh` makes a kind cluster whose nodes advertise fake GPUs (extended resources
patched onto node status) and runs this. Everything it creates lives in two namespaces of its
own, deleted at the end; it uses its own scheduler name, so it never touches other pods."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from fairshare.model import Policy
from fairshare.quota_tree import Project, QuotaTree
from scheduler.kube.bench import FixedQuota
from scheduler.kube.config import api_client, done
from scheduler.kube.run import LiveScheduler, RunConfig
from tests.kube.builders import eventually, pod_obj

pytestmark = pytest.mark.cluster

RUN = uuid.uuid4().hex[:6]
WORK, SYSTEM, NAME = f"quotient-e2e-{RUN}", f"quotient-e2e-system-{RUN}", f"quotient-e2e-{RUN}"


@pytest.fixture(scope="module")
def api() -> Iterator[client.ApiClient]:
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG names no cluster")
    api = api_client(os.environ["KUBECONFIG"])
    core: Any = client.CoreV1Api(api)
    for ns in (WORK, SYSTEM):
        done(core.create_namespace({"metadata": {"name": ns}}, _preload_content=False))
    yield api
    for ns in (WORK, SYSTEM):
        done(core.delete_namespace(ns, _preload_content=False))


@pytest.fixture(scope="module")
def live(api: client.ApiClient) -> Iterator[LiveScheduler]:
    quota = FixedQuota(QuotaTree.build([Project(WORK, deserved_milli=2000)]))
    config = RunConfig(
        scheduler_name=NAME,
        namespace=SYSTEM,
        metrics_port=None,
        lease_seconds=5,
        renew_deadline=3,
        retry_period=1,
        cycle_seconds=1,
    )
    sched = LiveScheduler(api, quota, Policy(), config)
    sched.start()
    assert sched.cache.wait_synced(30)
    eventually(sched.is_leader, timeout=15, what="the lease")
    yield sched
    sched.shutdown()


def _gpu_nodes(sched: LiveScheduler) -> list[str]:
    return [
        n.name for n in sched.cache.cluster_state().nodes if n.gpu_count and not n.unschedulable
    ]


def _pod(core: Any, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        done(core.read_namespaced_pod(name, WORK, _preload_content=False))
    )
    return data


def test_a_gpu_pod_is_bound_and_told_so(api: client.ApiClient, live: LiveScheduler) -> None:
    if not _gpu_nodes(live):
        pytest.skip("no node advertises nvidia.com/gpu")
    core: Any = client.CoreV1Api(api)
    body = pod_obj("one-gpu", WORK, scheduler=NAME)
    body["spec"]["containers"][0]["image"] = "registry.k8s.io/pause:3.9"
    done(core.create_namespaced_pod(WORK, body, _preload_content=False))
    live.cache.wait_for_change(5)
    eventually(
        lambda: (live.cycle(), _pod(core, "one-gpu")["spec"].get("nodeName"))[1],
        timeout=60,
        what="the pod to be bound",
    )
    assert _pod(core, "one-gpu")["spec"]["nodeName"] in _gpu_nodes(live)


def test_a_pod_that_cannot_fit_waits_with_its_reason(
    api: client.ApiClient, live: LiveScheduler
) -> None:
    core: Any = client.CoreV1Api(api)
    body = pod_obj("too-big", WORK, gpus=64, scheduler=NAME)
    body["spec"]["containers"][0]["image"] = "registry.k8s.io/pause:3.9"
    done(core.create_namespaced_pod(WORK, body, _preload_content=False))

    def condition() -> dict[str, Any] | None:
        live.cycle()
        live.executor.drain()
        found = [
            c
            for c in _pod(core, "too-big")["status"].get("conditions") or []
            if c["type"] == "PodScheduled" and c["status"] == "False"
        ]
        return found[0] if found else None

    c = eventually(condition, timeout=60, what="PodScheduled=False")
    assert c["reason"] in ("NoMatchingNode", "Unschedulable", "OverLimit", "OverFairShare")
    assert c["message"]
