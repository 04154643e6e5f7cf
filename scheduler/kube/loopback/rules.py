"""The double's registry rules: what the apiserver's REST strategies do beyond storing.

Owns defaulting and validation on create (a pod gets `schedulerName: default-scheduler`,
phase Pending; an extended resource such as `nvidia.com/gpu` in requests but not in limits
is 422, as core validation insists), the `pods/binding` subresource (404 for a missing pod,
400 when the Binding names another pod, 409 when the pod is already assigned or being
deleted; it answers a `Status`, not a Binding), policy/v1 Eviction (429 TooManyRequests
when a PodDisruptionBudget has no disruptions left, otherwise a graceful delete), graceful
pod deletion (deletionTimestamp, the pod stays until its grace period ends; a pod never
bound goes at once), and strategic-merge patches of pod status (conditions merge by type).
A tiny "kubelet" marks a bound pod Running. It must not speak HTTP (server.py).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from typing import Any

from scheduler.kube.loopback.store import ApiError, Obj, Store, label_matcher, now_rfc3339

PODS = "/pods"
PDBS = "policy/poddisruptionbudgets"
EXTENDED_PREFIXES = ("nvidia.com/",)


def success(details: Obj | None = None) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
        "details": details or {},
    }


class Rules:
    def __init__(self, store: Store, grace_seconds: float = 0.0, kubelet: bool = True) -> None:
        self.store = store
        self.grace_seconds = grace_seconds  # how long a deleted, bound pod stays terminating
        self.kubelet = kubelet  # mark bound pods Running, as a node agent would
        self._timers: list[threading.Timer] = []

    # ------------------------------------------------------------------- creation

    def default(self, resource: str, obj: Obj) -> None:
        if resource == PODS:
            _default_pod(obj)

    # -------------------------------------------------------------------- binding

    def bind(self, namespace: str, name: str, body: Obj) -> Obj:
        """registry/core/pod/storage BindingREST.Create: assign once, answer a Status."""
        if (body.get("metadata") or {}).get("name") != name:
            raise ApiError(400, "BadRequest", "name in the Binding does not match the pod's name")
        target = (body.get("target") or {}).get("name")
        if not target:
            raise ApiError(400, "BadRequest", "Binding.target.name: Required value")

        uid = (body.get("metadata") or {}).get("uid")

        def assign(pod: Obj) -> None:
            spec, meta = pod["spec"], pod["metadata"]
            if uid and uid != meta.get("uid"):
                raise ApiError(409, "Conflict", f"pod {name}: the UID in the Binding is another "
                               f"pod's (precondition failed)")  # fmt: skip
            if meta.get("deletionTimestamp"):
                raise ApiError(409, "Conflict", f"pod {name} is being deleted, cannot be assigned")
            if spec.get("nodeName"):
                raise ApiError(
                    409,
                    "Conflict",
                    f'pod {name} is already assigned to node "{spec["nodeName"]}"',
                )
            spec["nodeName"] = target
            status = pod.setdefault("status", {})
            _set_condition(status, {"type": "PodScheduled", "status": "True"})
            if self.kubelet:
                status["phase"] = "Running"
                status["startTime"] = now_rfc3339()

        with self.store.lock:
            self.store.mutate(PODS, namespace, name, assign)
        return success({"name": name, "kind": "pods"})

    # ------------------------------------------------------------------- eviction

    def evict(self, namespace: str, name: str, body: Obj | None = None) -> Obj:
        """registry/core/pod/storage/eviction.go: a pod that is not running may always go;
        a running one only while every budget covering it allows a disruption (else 429)."""
        with self.store.lock:
            pod = self.store.get(PODS, namespace, name)
            if _running(pod):
                for pdb in self.store.query(PDBS, namespace, lambda _: True):
                    self._check_budget(pdb, pod, namespace)
            self.delete_pod(namespace, name)
        return success({"name": name, "kind": "pods"})

    def _check_budget(self, pdb: Obj, pod: Obj, namespace: str) -> None:
        spec = pdb.get("spec") or {}
        selector = ",".join(
            f"{k}={v}" for k, v in (spec.get("selector") or {}).get("matchLabels", {}).items()
        )
        match = label_matcher(selector)
        if not selector or not match(pod):
            return
        pods = self.store.query(PODS, namespace, match)
        healthy = sum(1 for p in pods if _running(p))
        if "minAvailable" in spec:
            allowed = healthy - int(spec["minAvailable"])
        else:
            allowed = int(spec.get("maxUnavailable", 0)) - (len(pods) - healthy)
        if allowed <= 0:
            need = spec.get("minAvailable", len(pods) - int(spec.get("maxUnavailable", 0)))
            budget = pdb["metadata"]["name"]
            raise ApiError(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {budget} needs {need} "
                            f"healthy pods and has {healthy} currently",
                        }
                    ]
                },
            )

    # ------------------------------------------------------------------- deletion

    def delete_pod(self, namespace: str, name: str) -> Obj:
        """Graceful deletion (registry/core/pod/strategy.go CheckGracefulDelete): a bound pod
        gets deletionTimestamp and stays until its grace period ends; an unbound one goes."""
        with self.store.lock:
            pod = self.store.get(PODS, namespace, name)
            if self.grace_seconds <= 0 or not pod["spec"].get("nodeName"):
                return self.store.delete(PODS, namespace, name)
            if pod["metadata"].get("deletionTimestamp"):
                return pod

            def terminate(p: Obj) -> None:
                p["metadata"]["deletionTimestamp"] = now_rfc3339()
                p["metadata"]["deletionGracePeriodSeconds"] = int(self.grace_seconds)

            out = self.store.mutate(PODS, namespace, name, terminate)
        timer = threading.Timer(self.grace_seconds, self._finish, (namespace, name))
        timer.daemon = True
        timer.start()
        self._timers.append(timer)
        return out

    def _finish(self, namespace: str, name: str) -> None:
        with contextlib.suppress(ApiError):  # already gone
            self.store.delete(PODS, namespace, name)

    def close(self) -> None:
        for t in self._timers:
            t.cancel()

    # ---------------------------------------------------------------- status patch

    def patch_status(self, namespace: str, name: str, patch: Obj) -> Obj:
        def apply(pod: Obj) -> None:
            status = pod.setdefault("status", {})
            for key, value in (patch.get("status") or {}).items():
                if key == "conditions":
                    for condition in value:
                        _set_condition(status, condition)
                else:
                    status[key] = value

        return self.store.mutate(PODS, namespace, name, apply)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what strategic merge does for maps without patch keys)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get(
        "deletionTimestamp"
    )


def _set_condition(status: Obj, condition: Obj) -> None:
    conditions = status.setdefault("conditions", [])
    condition = {"lastTransitionTime": now_rfc3339(), **condition}
    for i, old in enumerate(conditions):
        if old.get("type") == condition.get("type"):
            conditions[i] = {**old, **condition}
            return
    conditions.append(condition)


def _default_pod(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for resource in requests:
            if resource.startswith(EXTENDED_PREFIXES) and resource not in limits:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Pod "{pod["metadata"].get("name")}" is invalid: spec.containers[0]'
                    f".resources.limits: Required value: Limit must be set for non overcommitable"
                    f" resources",
                )
    if not spec.get("containers"):
        raise ApiError(422, "Invalid", "spec.containers: Required value")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("restartPolicy", "Always")
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("conditions", [])
    status.setdefault("qosClass", "BestEffort")
