"""Builders for complete Kubernetes objects as the API serves them, and test helpers.

Client 37's models reject incomplete objects, so every builder gives the fields a real
apiserver would (containers with names and images, node conditions, allocatable)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

Obj = dict[str, Any]


def node_obj(
    name: str,
    gpus: int = 8,
    *,
    memory_mib: int = 81920,
    product: str = "H100",
    labels: Mapping[str, str] | None = None,
    taints: list[Obj] | None = None,
    ready: bool = True,
    unschedulable: bool = False,
    cpu: str = "64",
    memory: str = "512Gi",
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "nvidia.com/gpu.product": product,
                "nvidia.com/gpu.memory": str(memory_mib),
                **(labels or {}),
            },
        },
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {
            "allocatable": {
                "nvidia.com/gpu": str(gpus),
                "cpu": cpu,
                "memory": memory,
                "pods": "110",
            },
            "capacity": {"nvidia.com/gpu": str(gpus), "cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def ns_obj(name: str, labels: Mapping[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(labels or {})},
    }


def pod_obj(
    name: str,
    namespace: str = "team-a",
    *,
    gpus: int | str | None = 1,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    scheduler: str = "quotient",
    node: str | None = None,
    cpu: str | None = None,
    priority: int | None = None,
    spec: Obj | None = None,
) -> Obj:
    resources: Obj = {}
    if gpus is not None:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    if cpu is not None:
        resources["requests"] = {"cpu": cpu}
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "schedulerName": scheduler,
            "containers": [{"name": "main", "image": "busybox", "resources": resources}],
            **(spec or {}),
        },
    }
    if node is not None:
        body["spec"]["nodeName"] = node
    if priority is not None:
        body["spec"]["priority"] = priority
    return body


def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kubeconfig(path: Any, url: str) -> Any:
    """A kubeconfig naming the loopback apiserver, as `kind get kubeconfig` would write one."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: loop\n"
        f"clusters: [{{name: loop, cluster: {{server: '{url}'}}}}]\n"
        "users: [{name: me, user: {token: loopback}}]\n"
        "contexts: [{name: loop, context: {cluster: loop, user: me}}]\n"
    )
    return path
