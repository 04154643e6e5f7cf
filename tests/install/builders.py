"""Pods and AdmissionReviews as the API server sends them to a mutating webhook."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonpatch

Obj = dict[str, Any]


def container(name: str = "main", gpus: str | None = None, **resources: str) -> Obj:
    limits = dict(resources)
    if gpus is not None:
        limits["nvidia.com/gpu"] = gpus
    out: Obj = {"name": name, "image": "busybox"}
    if limits:
        out["resources"] = {"limits": limits}
    return out


def pod(
    name: str | None = "p",
    *,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    containers: list[Obj] | None = None,
    init: list[Obj] | None = None,
    scheduler: str = "quotient",
    generate_name: str | None = None,
) -> Obj:
    meta: Obj = {"namespace": "team-a"}
    if name is not None:
        meta["name"] = name
    if generate_name is not None:
        meta["generateName"] = generate_name
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    spec: Obj = {"schedulerName": scheduler, "containers": containers or [container()]}
    if init:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def review_of(
    obj: Obj, *, uid: str = "0d6a3c1e-4b7f-4c1a-9b1e-2f5d6c7a8b90", operation: str = "CREATE"
) -> Obj:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "team-a",
            "operation": operation,
            "object": obj,
        },
    }


def patched(obj: Obj, response: Obj) -> Obj:
    """Apply a response's JSON patch the way the API server does."""
    if "patch" not in response:
        return obj
    assert response["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(response["patch"]))
    return jsonpatch.apply_patch(obj, ops)  # type: ignore[no-any-return]


def env_of(obj: Obj, index: int = 0, kind: str = "containers") -> dict[str, Any]:
    entries = obj["spec"][kind][index].get("env") or []
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in entries}
