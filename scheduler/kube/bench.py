"""`quotient bench bind`: the full live path, watch to bind, against the loopback apiserver.

Owns one measurement: a loopback apiserver in a child process (its own interpreter and
core, as a real apiserver would be) with N nodes and M pending one-GPU pods created at once;
the live scheduler in this process watches them, decides with the real loop and binds in
parallel through the real client. It reports binds per second (pods over the time from the
first pod's creation to the last bind) and the p99 of pod creation to bind. It must not
change any scheduling behaviour to look faster.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from fairshare.model import Policy
from fairshare.quota_tree import Project, QuotaTree
from fairshare.resources import MILLI_PER_GPU
from scheduler.kube.config import loopback_client
from scheduler.kube.run import LiveScheduler, RunConfig

NAMESPACE = "bench"


@dataclass(frozen=True)
class FixedQuota:
    tree: QuotaTree

    def quota_tree(self) -> QuotaTree:
        return self.tree


def _node(name: str, gpus: int) -> dict[str, Any]:
    allocatable = {"nvidia.com/gpu": str(gpus), "cpu": "128", "memory": "1Ti", "pods": "250"}
    return {
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "H100"}},
        "spec": {},
        "status": {
            "allocatable": allocatable,
            "capacity": allocatable,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _pod(name: str) -> dict[str, Any]:
    resources = {"limits": {"nvidia.com/gpu": "1"}, "requests": {"cpu": "1"}}
    return {
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "schedulerName": "quotient",
            "containers": [{"name": "main", "image": "busybox", "resources": resources}],
        },
    }


def _serve(conn: Connection, nodes: int, gpus: int) -> None:
    from scheduler.kube.loopback.server import LoopbackApiServer

    server = LoopbackApiServer(history=20_000).start()
    server.put("/namespaces", {"metadata": {"name": NAMESPACE}})
    server.put("/namespaces", {"metadata": {"name": "quotient-system"}})
    for i in range(nodes):
        server.put("/nodes", _node(f"node-{i:04d}", gpus))
    conn.send(server.url)
    count = conn.recv()  # the scheduler is synced: create the pods, all at once
    created = {}
    for i in range(count):
        name = f"pod-{i:05d}"
        server.put("/pods", _pod(name), NAMESPACE)
        created[f"{NAMESPACE}/{name}"] = time.time()
    conn.send(created)
    conn.recv()  # done
    conn.send(time.process_time())
    server.close()


def bench_bind(pods: int = 1000, nodes: int = 100, timeout_s: float = 120.0) -> dict[str, Any]:
    gpus = max(8, math.ceil(pods / max(nodes, 1)))
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    child = ctx.Process(target=_serve, args=(there, nodes, gpus), daemon=True)
    child.start()
    try:
        figures = _measure(here, pods, nodes, gpus, timeout_s)
    finally:
        here.send("done")
    figures["apiserver_cpu_seconds"] = round(here.recv(), 2)
    figures["scheduler_cpu_seconds"] = round(time.process_time(), 2)
    child.join(10)
    return figures


def _measure(
    conn: Connection, pods: int, nodes: int, gpus: int, timeout_s: float
) -> dict[str, Any]:
    url = conn.recv()
    bound: dict[str, float] = {}
    all_bound = threading.Event()

    def on_bound(pod: str, _: float) -> None:
        bound[pod] = time.time()
        if len(bound) >= pods:
            all_bound.set()

    quota = FixedQuota(QuotaTree.build([Project("bench", nodes * gpus * MILLI_PER_GPU)]))
    config = RunConfig(leader_elect=False, metrics_port=None, cycle_seconds=1.0, bind_workers=16)
    live = LiveScheduler(loopback_client(url, pool_size=48), quota, Policy(), config,
                         on_bound=on_bound)  # fmt: skip
    runner = threading.Thread(target=live.run, daemon=True)
    runner.start()
    if not live.cache.wait_synced(30):
        raise RuntimeError("the scheduler's caches did not sync with the loopback apiserver")
    conn.send(pods)
    created: dict[str, float] = conn.recv()
    all_bound.wait(timeout_s)
    live.stop_event.set()
    runner.join(30)
    return _figures(created, bound, pods, nodes, live.cycles)


def _figures(created: dict[str, float], bound: dict[str, float], pods: int, nodes: int,
             cycles: int) -> dict[str, Any]:  # fmt: skip
    latencies = sorted(bound[p] - created[p] for p in bound if p in created)
    span = (max(bound.values()) - min(created.values())) if bound else float("inf")
    p99 = (
        latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
        if latencies
        else None
    )
    return {
        "pods": pods,
        "nodes": nodes,
        "bound": len(bound),
        "cycles": cycles,
        "seconds": round(span, 3),
        "binds_per_second": round(len(bound) / span, 1) if bound else 0.0,
        "p50_pod_to_bind_seconds": round(latencies[len(latencies) // 2], 3) if latencies else None,
        "p99_pod_to_bind_seconds": round(p99, 3) if p99 is not None else None,
    }
