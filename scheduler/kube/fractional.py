"""Fractional GPUs on a real cluster (DESIGN §1.3): reservation pods and per-pod ConfigMaps.

Owns the reservation pod of a shared GPU (in the scheduler's namespace, `spec.nodeName`
set, requesting and limiting `nvidia.com/gpu: 1` so the device plugin really hands that GPU
out; its container, `python -m scheduler.kube.reserve`, patches its own annotation
`quotient.io/gpu-uuid`), waiting for that UUID (never inventing one; a reservation that
does not report in time is deleted and the GPU tried again later), the ConfigMap a
fractional pod reads (NVIDIA_VISIBLE_DEVICES, GPU_FRACTION, GPU_MEMORY_LIMIT_MIB), owned by
that pod so it is garbage-collected with it, and deleting reservations nobody uses. It must
not decide placements nor bind (executor.py binds once the ConfigMap exists).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.model import PodAssignment
from fairshare.resources import format_gpus
from scheduler.kube.config import done
from scheduler.kube.state import RESERVATION_LABEL, RESERVATION_NOTE, UUID_NOTE
from scheduler.kube.translate import GPU, Obj, seconds

CONFIGMAP_NOTE = "quotient.io/gpu-configmap"
NODE_LABEL = "quotient.io/node"


class ReservationFailed(RuntimeError):
    """The reservation never reported a GPU UUID; it was deleted."""


@dataclass(frozen=True)
class ReservationSpec:
    namespace: str = "quotient-system"
    image: str = "quotient:latest"
    service_account: str = "quotient-reservation"
    uuid_timeout_seconds: float = 120.0
    idle_grace_seconds: float = 30.0  # an unused reservation younger than this is kept
    retry_seconds: float = 60.0  # after a reservation reported no UUID, that node waits


def new_reservation_name(node: str) -> str:
    return f"quotient-gpu-{node[:40]}-{uuid.uuid4().hex[:8]}".lower()


def reservation_pod(name: str, node: str, spec: ReservationSpec) -> Obj:
    env = [
        {"name": n, "valueFrom": {"fieldRef": {"fieldPath": p}}}
        for n, p in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"))
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": {RESERVATION_LABEL: "true", NODE_LABEL: node},
        },
        "spec": {
            "nodeName": node,  # placed by us, not by any scheduler: the GPU is ours
            "serviceAccountName": spec.service_account,
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "reserve",
                    "image": spec.image,
                    "command": ["python", "-m", "scheduler.kube.reserve"],
                    "env": env,
                    "resources": {
                        "limits": {GPU: "1", "cpu": "50m", "memory": "64Mi"},
                        "requests": {GPU: "1", "cpu": "10m", "memory": "32Mi"},
                    },
                }
            ],
        },
    }


def configmap_name(pod: Obj) -> str:
    notes = pod["metadata"].get("annotations") or {}
    return notes.get(CONFIGMAP_NOTE) or f"{pod['metadata']['name']}-gpu"


def gpu_configmap(pod: Obj, gpu_uuid: str, a: PodAssignment) -> Obj:
    meta = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(pod),
            "namespace": meta["namespace"],
            "labels": {"quotient.io/gpu-for": meta["name"]},
            # Owned by the pod: deleted with it by the garbage collector.
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "data": {
            "NVIDIA_VISIBLE_DEVICES": gpu_uuid,
            "GPU_FRACTION": format_gpus(a.gpu_milli),
            "GPU_MEMORY_LIMIT_MIB": str(a.gpu_memory_limit_mib or 0),
        },
    }


class Reservations:
    def __init__(
        self, api: client.ApiClient, spec: ReservationSpec, read_pod: Callable[[str], Obj | None]
    ) -> None:
        self.core: Any = client.CoreV1Api(api)  # JSON bodies, raw replies: see _preload_content
        self.spec = spec
        self._read_pod = read_pod  # from the watch cache: no polling of the API
        self.deleted = 0

    def create(self, name: str, node: str) -> None:
        body = reservation_pod(name, node, self.spec)
        done(
            self.core.create_namespaced_pod(
                self.spec.namespace, body, _preload_content=False, _request_timeout=10
            )
        )

    def wait_uuid(self, key: str, stopped: Callable[[], bool]) -> str:
        deadline = time.monotonic() + self.spec.uuid_timeout_seconds
        while time.monotonic() < deadline and not stopped():
            pod = self._read_pod(key)
            found = ((pod or {}).get("metadata", {}).get("annotations") or {}).get(UUID_NOTE)
            if found:
                return str(found)
            time.sleep(0.05)
        self.delete(key)
        raise ReservationFailed(
            f"reservation {key} reported no GPU UUID within {self.spec.uuid_timeout_seconds:g}s;"
            f" deleted it, the GPU is tried again later"
        )

    def delete(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        try:
            done(
                self.core.delete_namespaced_pod(
                    name, namespace, _preload_content=False, _request_timeout=10
                )
            )
            self.deleted += 1
        except ApiException as e:
            if e.status != 404:
                raise

    def write_configmap(self, pod: Obj, gpu_uuid: str, a: PodAssignment) -> None:
        body = gpu_configmap(pod, gpu_uuid, a)
        namespace, name = pod["metadata"]["namespace"], body["metadata"]["name"]
        try:
            done(
                self.core.create_namespaced_config_map(
                    namespace, body, _preload_content=False, _request_timeout=10
                )
            )
        except ApiException as e:
            if e.status != 409:
                raise
            # Left from an earlier try (or an earlier pod of that name): make it say this GPU.
            done(
                self.core.replace_namespaced_config_map(
                    name, namespace, body, _preload_content=False, _request_timeout=10
                )
            )

    def annotate(self, pod: Obj, reservation: str, gpu_uuid: str) -> None:
        meta = pod["metadata"]
        patch = {"metadata": {"annotations": {RESERVATION_NOTE: reservation, UUID_NOTE: gpu_uuid}}}
        done(
            self.core.patch_namespaced_pod(
                meta["name"], meta["namespace"], patch, _preload_content=False, _request_timeout=10
            )
        )

    def idle(
        self, reservations: dict[str, Obj], users: dict[str, int], busy: set[str], now: float
    ) -> list[str]:
        """Reservations with no fractional pod (running or being bound), past their grace."""
        out = []
        for key, pod in reservations.items():
            if users.get(key) or key in busy or pod["metadata"].get("deletionTimestamp"):
                continue
            created = pod["metadata"].get("creationTimestamp")
            age = now - seconds(created) if created else self.spec.idle_grace_seconds
            if age >= self.spec.idle_grace_seconds:
                out.append(key)
        return sorted(out)
