"""What the mutating admission webhook does to one pod, as a pure function of the pod.

Owns the admission rules of Quotient's pods (those whose `spec.schedulerName` is ours):
which pod specs can never work and are rejected with a message naming the field (its own
checks first, then anything translate.py would answer InvalidRequest for), the name
of a fractional pod's GPU ConfigMap (recorded in the annotation `quotient.io/gpu-configmap`,
chosen here because a pod made with `generateName` has no name yet at admission), the
environment that wires the GPU container to that ConfigMap, and `NVIDIA_VISIBLE_DEVICES=void`
on every container that asked for no GPU, so the NVIDIA runtime does not hand it every GPU.
The AdmissionReview v1 round trip and the RFC 6902 patch live here too. It must not do I/O
(webhook.py serves it over TLS) nor decide anything about scheduling.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonpatch
from kubernetes.utils import quantity

from fairshare.resources import MILLI_PER_GPU, QuantityError, to_milli
from scheduler.kube import translate

Obj = dict[str, Any]

GPU = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"
FRACTION = "gpu-fraction"
GPU_MEMORY = "gpu-memory"
CONTAINER_NAME = "gpu-fraction-container-name"  # KAI's and Run:ai's annotation
CONFIGMAP_ANNOTATION = "quotient.io/gpu-configmap"
GANG = "quotient.io/gang"
GANG_SIZE = "quotient.io/gang-size"
VISIBLE_DEVICES = "NVIDIA_VISIBLE_DEVICES"
GPU_ENV = (VISIBLE_DEVICES, "GPU_FRACTION", "GPU_MEMORY_LIMIT_MIB")
NO_GPU = "void"  # the NVIDIA container runtime's value for "no GPU at all"
MAX_NAME = 253  # a ConfigMap name is a DNS subdomain
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


parse_quantity: Callable[[object], Decimal] = quantity.parse_quantity  # untyped upstream


class Rejected(ValueError):
    """A pod spec that can never work; `field` is the path a person has to fix."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Verdict:
    """The answer for one pod: allowed with a patch (maybe empty), or rejected."""

    patch: tuple[Obj, ...] = ()
    rejection: Rejected | None = None


# ------------------------------------------------------------------- the round trip


def review(body: object, scheduler_name: str = "quotient") -> Obj:
    """AdmissionReview v1 request -> AdmissionReview v1 response.

    Raises ValueError when the body is not an AdmissionReview at all (the server answers
    400); every well-formed review gets an answer with its `uid`.
    """
    request = _request_of(body)
    verdict = Verdict()
    if _is_pod_create(request):
        pod = request.get("object")
        if not isinstance(pod, dict):
            raise ValueError("request.object: a Pod is required for CREATE")
        if (pod.get("spec") or {}).get("schedulerName") == scheduler_name:
            verdict = admit(pod, request_uid=str(request["uid"]))
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": _response(str(request["uid"]), verdict),
    }


def _request_of(body: object) -> Obj:
    if not isinstance(body, dict) or body.get("kind") != "AdmissionReview":
        raise ValueError("kind: an AdmissionReview is required")
    if body.get("apiVersion") != "admission.k8s.io/v1":
        got = body.get("apiVersion")
        raise ValueError(f"apiVersion: admission.k8s.io/v1 is required, got {got!r}")
    request = body.get("request")
    if not isinstance(request, dict) or not request.get("uid"):
        raise ValueError("request.uid: a request with a uid is required")
    return request


def _is_pod_create(request: Mapping[str, Any]) -> bool:
    kind = request.get("kind") or {}
    return (
        request.get("operation") == "CREATE"
        and kind.get("group", "") == ""
        and kind.get("kind") == "Pod"
        and not request.get("subResource")
    )


def _response(uid: str, verdict: Verdict) -> Obj:
    if verdict.rejection is not None:
        return {
            "uid": uid,
            "allowed": False,
            "status": {"code": 400, "reason": "Invalid", "message": str(verdict.rejection)},
        }
    out: Obj = {"uid": uid, "allowed": True}
    if verdict.patch:
        out["patchType"] = "JSONPatch"
        out["patch"] = base64.b64encode(json.dumps(list(verdict.patch)).encode()).decode()
    return out


def admit(pod: Obj, *, request_uid: str) -> Verdict:
    """The verdict for a Quotient pod: the patch that wires it, or why it cannot work."""
    try:
        mutated = mutate(pod, request_uid=request_uid)
    except Rejected as e:
        return Verdict(rejection=e)
    return Verdict(patch=tuple(jsonpatch.make_patch(pod, mutated).patch))


# ------------------------------------------------------------------- the mutation


def mutate(pod: Obj, *, request_uid: str) -> Obj:
    """A copy of the pod as it should be admitted; raises Rejected for what can never work."""
    meta = pod.get("metadata") or {}
    notes: Mapping[str, str] = meta.get("annotations") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    spec = pod.get("spec") or {}
    share = _share(spec, notes)
    _check_gang(notes, labels)
    # Whatever else the scheduler would answer InvalidRequest for can never work either.
    named = {**pod, "metadata": {**meta, "name": meta.get("name") or meta.get("generateName")}}
    problem = translate.to_pod(named, None).invalid_reason  # generateName: no name yet
    if problem is not None:
        raise Rejected("pod", problem)
    out = copy.deepcopy(pod)
    out_spec = out.setdefault("spec", {})
    gpu_container = _gpu_container(out_spec, notes) if share else None
    if gpu_container is not None:
        name = _configmap_name(meta, request_uid)
        out.setdefault("metadata", {}).setdefault("annotations", {})[CONFIGMAP_ANNOTATION] = name
        _set_env(gpu_container, [_from_configmap(key, name) for key in GPU_ENV])
    for container in _all_containers(out_spec):
        if container is not gpu_container and not _asks_for_devices(container):
            _set_env(container, [{"name": VISIBLE_DEVICES, "value": NO_GPU}])
    return out


def _share(spec: Obj, notes: Mapping[str, str]) -> bool:
    """Whether the pod asks for a share of one GPU; rejects the asks that can never work."""
    fraction, memory = notes.get(FRACTION), notes.get(GPU_MEMORY)
    if fraction is None and memory is None:
        return False
    where = f"metadata.annotations[{FRACTION if fraction is not None else GPU_MEMORY}]"
    if fraction is not None and memory is not None:
        raise Rejected(where, f"give {FRACTION} or {GPU_MEMORY}, not both")
    for i, container, kind in _indexed_containers(spec):
        for resource in _device_resources(container):
            raise Rejected(
                f"spec.{kind}[{i}].resources.limits[{resource}]",
                f"a pod asking for a share of one GPU ({where}) must not also ask for "
                f"{resource}; ask for whole GPUs or a share, not both",
            )
    if fraction is not None:
        _check_fraction(where, fraction)
    elif memory is not None and (not memory.strip().isdigit() or int(memory) <= 0):
        raise Rejected(where, f"must be a whole number of MiB above 0, got {memory!r}")
    return True


def _check_fraction(where: str, text: str) -> None:
    try:
        milli = to_milli(text, where)
    except QuantityError as e:
        raise Rejected(where, f"{e.reason} (a decimal above 0 and below 1)") from None
    if not 0 < milli < MILLI_PER_GPU:
        raise Rejected(
            where,
            f"must be above 0 and below 1, got {text!r}; whole GPUs are asked for "
            f"with limits[{GPU}]",
        )


def _check_gang(notes: Mapping[str, str], labels: Mapping[str, str]) -> None:
    for source, values in (("annotations", notes), ("labels", labels)):
        size = values.get(GANG_SIZE)
        if size is None:
            continue
        where = f"metadata.{source}[{GANG_SIZE}]"
        if not size.isdigit() or int(size) < 1:
            raise Rejected(where, f"must be a whole number of pods, at least 1, got {size!r}")
        if GANG not in notes and GANG not in labels:
            raise Rejected(where, f"is set but {GANG} is not; name the gang")


def _gpu_container(spec: Obj, notes: Mapping[str, str]) -> Obj:
    """The container a share of a GPU goes to: the first one, or the one the annotation names
    (KAI's rule, so pod specs written for KAI or Run:ai keep their meaning)."""
    containers = spec.get("containers") or []
    wanted = notes.get(CONTAINER_NAME)
    if wanted is None:
        if not containers:
            raise Rejected("spec.containers", "a pod needs at least one container")
        return containers[0]  # type: ignore[no-any-return]
    for container in _all_containers(spec):
        if container.get("name") == wanted:
            return container
    raise Rejected(f"metadata.annotations[{CONTAINER_NAME}]", f"no container is named {wanted!r}")


def _configmap_name(meta: Mapping[str, Any], request_uid: str) -> str:
    """Keep a name already recorded; else `<pod-name>-gpu` (the binder's default), else,
    for `generateName` pods, the prefix plus this request's uid, which is unique."""
    recorded = (meta.get("annotations") or {}).get(CONFIGMAP_ANNOTATION)
    if recorded is not None:
        if len(recorded) > MAX_NAME or not _SUBDOMAIN.match(recorded):
            raise Rejected(
                f"metadata.annotations[{CONFIGMAP_ANNOTATION}]",
                f"must be a DNS subdomain name of at most {MAX_NAME} characters, got {recorded!r}",
            )
        return str(recorded)
    name = meta.get("name") or ""
    if name and len(name) + 4 <= MAX_NAME:
        return f"{name}-gpu"
    suffix = "gpu-" + re.sub(r"[^0-9a-f]", "", request_uid.lower())[:12]
    prefix = (name or meta.get("generateName") or "pod-").lower()
    prefix = prefix[: MAX_NAME - len(suffix) - 1].rstrip("-.")
    return f"{prefix}-{suffix}" if prefix else suffix


def _set_env(container: Obj, entries: list[Obj]) -> None:
    """Put these variables in the container, replacing any it set itself: a pod must not
    pick its own GPUs by writing NVIDIA_VISIBLE_DEVICES."""
    names = {e["name"] for e in entries}
    kept = [e for e in container.get("env") or [] if e.get("name") not in names]
    container["env"] = kept + entries


def _from_configmap(key: str, name: str) -> Obj:
    # Not optional: the kubelet keeps the container from starting until the binder has
    # written the ConfigMap, so a fractional pod never runs without its GPU assignment.
    ref = {"name": name, "key": key, "optional": False}
    return {"name": key, "valueFrom": {"configMapKeyRef": ref}}


def _indexed_containers(spec: Obj) -> list[tuple[int, Obj, str]]:
    return [
        (i, c, kind)
        for kind in ("initContainers", "containers")
        for i, c in enumerate(spec.get(kind) or [])
    ]


def _all_containers(spec: Obj) -> list[Obj]:
    return [c for _, c, _ in _indexed_containers(spec)]


def _device_resources(container: Obj) -> list[str]:
    """GPU device-plugin resources a container asks for (whole GPUs or MIG slices)."""
    resources = container.get("resources") or {}
    asked = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    return sorted(
        r
        for r, amount in asked.items()
        if (r == GPU or r.startswith(MIG_PREFIX)) and _positive(amount)
    )


def _positive(amount: object) -> bool:
    try:
        return bool(parse_quantity(amount) > 0)
    except ValueError:
        return True  # malformed: the API server rejects it; never treat it as "no GPU"


def _asks_for_devices(container: Obj) -> bool:
    return bool(_device_resources(container))
