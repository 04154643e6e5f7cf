"""Kubernetes objects -> the core's value types (DESIGN §1), exactly, or a reason why not.

Owns reading a node (GPUs, model, memory, pool, taints, cordoned or NotReady) and a pod
(project, GPU ask, gang, type, preemptibility, priority, placement constraints, CPU and
memory requests) from the raw JSON the API serves. A pod asking for something contradictory
or malformed gets `invalid_reason` set, so the core answers `InvalidRequest` with that text;
nothing is guessed. Pods are named "namespace/name" everywhere. It must not talk to the API
(cache.py) nor decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity as _parse_quantity

from fairshare.model import (
    Constraints,
    GpuRequest,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSpec,
    Taint,
    Toleration,
    WorkloadType,
)
from fairshare.resources import MILLI_PER_GPU, QuantityError, to_milli
from scheduler.kube import sharing

Obj = dict[str, Any]

GPU = "nvidia.com/gpu"
REPLICAS_LABEL = "nvidia.com/gpu.replicas"
PRODUCT_LABEL = "nvidia.com/gpu.product"
MEMORY_LABEL = "nvidia.com/gpu.memory"
PROJECT_LABELS = ("quotient.io/project", "kai.scheduler/queue", "runai/queue")
GANG = "quotient.io/gang"
GANG_SIZE = "quotient.io/gang-size"
TYPE_LABEL = "quotient.io/workload-type"
PREEMPTIBLE_LABEL = "quotient.io/preemptible"
FRACTION = "gpu-fraction"
GPU_MEMORY = "gpu-memory"


def parse_quantity(text: object) -> Decimal:
    """A Kubernetes quantity ("500m", "64Gi", "2") as an exact Decimal; ValueError if not."""
    value: Decimal = _parse_quantity(text)  # type: ignore[no-untyped-call]
    return value


def key_of(obj: Obj) -> str:
    """The identity used everywhere: "namespace/name" (a node or namespace: its name)."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


def seconds(timestamp: str | None) -> int:
    if not timestamp:
        return 0
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())


# ----------------------------------------------------------------------------- nodes


def node_gpus(allocatable: Mapping[str, str], labels: Mapping[str, str]) -> int:
    """Physical GPUs of a node, whatever its sharing mode (time-slicing, MPS, MIG).

    The one place GPU counts are read: the sharing modes live in sharing.py.
    """
    return sharing.node_gpus(allocatable, labels)


def to_node(obj: Obj) -> Node:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    labels = dict(meta.get("labels") or {})
    allocatable = status.get("allocatable") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    gpus = sharing.read_node(allocatable, labels)
    return Node(
        name=meta["name"],
        gpu_count=gpus.physical,
        gpu_memory_mib=_label_int(labels, MEMORY_LABEL),
        gpu_model=labels.get(PRODUCT_LABEL, ""),
        cpu_milli=_milli_quantity(allocatable.get("cpu", "0")),
        memory_bytes=_int_quantity(allocatable.get("memory", "0")),
        labels={**labels, **gpus.labels()},  # the MIG profiles it serves, in the core's view
        taints=tuple(
            Taint(t["key"], t.get("value") or "", t.get("effect") or "NoSchedule")
            for t in spec.get("taints") or []
        )
        + gpus.taints(),  # keeps whole-GPU pods off replicas, non-MIG pods off MIG
        unschedulable=bool(spec.get("unschedulable")) or not ready,
    )


def _label_int(labels: Mapping[str, str], key: str) -> int:
    try:
        return max(int(labels.get(key, "0")), 0)
    except ValueError:
        return 0


def _int_quantity(text: object) -> int:
    try:
        return int(parse_quantity(text))
    except ValueError:
        return 0


def _milli_quantity(text: object) -> int:
    try:
        return int(parse_quantity(text) * 1000)
    except ValueError:
        return 0


# ------------------------------------------------------------------------------ pods


class Invalid(ValueError):
    """A pod spec Quotient will not guess about; the message names the field."""


@dataclass(frozen=True)
class PodFacts:
    """One pod in core terms, plus what grouping it into a workload needs."""

    key: str
    namespace: str
    spec: PodSpec
    project: str
    gang: str | None
    gang_size: int
    type: WorkloadType
    preemptible: bool | None
    priority: int
    submit_time: int
    constraints: Constraints
    invalid_reason: str | None = None


def project_of(pod: Obj, namespace: Obj | None) -> str:
    """Pod label, else the namespace's label, else the namespace name (the core answers
    ProjectNotFound when no project has that name)."""
    for labels in (
        (pod["metadata"].get("labels") or {}),
        ((namespace or {}).get("metadata") or {}).get("labels") or {},
    ):
        for key in PROJECT_LABELS:
            if labels.get(key):
                return str(labels[key])
    return str(pod["metadata"].get("namespace", ""))


def to_pod(pod: Obj, namespace: Obj | None) -> PodFacts:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    key, problem = key_of(pod), None
    try:
        gpu = gpu_request(spec, notes)
        kind = _type(labels)
        preemptible = _preemptible(labels)
        gang, gang_size = _gang(labels, notes)
        constraints = constraints_of(spec)
        gpu, constraints = sharing.pod_view(spec, gpu, constraints)  # MIG; shared nodes
        cpu, memory = requests_of(spec)
    except (Invalid, ValueError) as e:  # parse_quantity raises ValueError on "lots"
        problem = str(e)
        gpu, kind, preemptible, gang, gang_size, constraints, cpu, memory = (
            GpuRequest(),
            WorkloadType.TRAIN,
            None,
            None,
            0,
            Constraints(),
            0,
            0,
        )
    return PodFacts(
        key=key,
        namespace=meta.get("namespace", ""),
        spec=PodSpec(name=key, gpu=gpu, cpu_milli=cpu, memory_bytes=memory),
        project=project_of(pod, namespace),
        gang=gang,
        gang_size=gang_size,
        type=kind,
        preemptible=preemptible,
        priority=int(spec.get("priority") or 0),
        submit_time=seconds(meta.get("creationTimestamp")),
        constraints=constraints,
        invalid_reason=problem,
    )


def gpu_request(spec: Obj, notes: Mapping[str, str]) -> GpuRequest:
    whole = 0
    for c in spec.get("containers") or []:
        limit = ((c.get("resources") or {}).get("limits") or {}).get(GPU)
        if limit is not None:
            amount = parse_quantity(limit)
            if amount != amount.to_integral_value() or amount < 0:
                raise Invalid(f'limits["{GPU}"] must be a whole number of GPUs, got {limit}')
            whole += int(amount)
    fraction, memory = notes.get(FRACTION), notes.get(GPU_MEMORY)
    if (fraction is not None or memory is not None) and whole:
        raise Invalid(
            f"asks for {whole} nvidia.com/gpu and a {FRACTION if fraction else GPU_MEMORY}"
            f" annotation; ask for whole GPUs or a share of one, not both"
        )
    if fraction is not None and memory is not None:
        raise Invalid(f"has both {FRACTION} and {GPU_MEMORY} annotations; give one")
    if fraction is not None:
        return GpuRequest(fraction_milli=_fraction(fraction))
    if memory is not None:
        if not memory.strip().isdigit() or int(memory) <= 0:
            raise Invalid(f"{GPU_MEMORY} must be a whole number of MiB above 0, got {memory!r}")
        return GpuRequest(memory_mib=int(memory))
    return GpuRequest(whole=whole)


def _fraction(text: str) -> int:
    try:
        milli = to_milli(text, FRACTION)
    except QuantityError as e:
        raise Invalid(f"{FRACTION} {e.reason}") from None
    if not 0 < milli < MILLI_PER_GPU:
        raise Invalid(
            f"{FRACTION} must be above 0 and below 1, got {text}; use "
            f"nvidia.com/gpu limits for whole GPUs"
        )
    return milli


def _type(labels: Mapping[str, str]) -> WorkloadType:
    value = labels.get(TYPE_LABEL, "train")
    try:
        return WorkloadType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in WorkloadType)
        raise Invalid(f"label {TYPE_LABEL} must be one of {allowed}, got {value!r}") from None


def _preemptible(labels: Mapping[str, str]) -> bool | None:
    value = labels.get(PREEMPTIBLE_LABEL)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise Invalid(f'label {PREEMPTIBLE_LABEL} must be "true" or "false", got {value!r}')
    return value == "true"


def _gang(labels: Mapping[str, str], notes: Mapping[str, str]) -> tuple[str | None, int]:
    gang = notes.get(GANG) or labels.get(GANG)
    size = notes.get(GANG_SIZE) or labels.get(GANG_SIZE)
    if size is not None and gang is None:
        raise Invalid(f"{GANG_SIZE} is set but {GANG} is not; name the gang")
    if size is None:
        return gang, 0
    if not size.isdigit() or int(size) < 1:
        raise Invalid(f"{GANG_SIZE} must be a whole number of pods, at least 1, got {size!r}")
    return gang, int(size)


def requests_of(spec: Obj) -> tuple[int, int]:
    """CPU milli and memory bytes as the default scheduler counts a pod: the sum of its
    containers, or the largest init container if that is more, plus the pod overhead."""

    def amount(c: Obj, resource: str) -> Decimal:
        value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        return parse_quantity(value) if value is not None else Decimal(0)

    out = []
    for resource in ("cpu", "memory"):
        total = sum((amount(c, resource) for c in spec.get("containers") or []), Decimal(0))
        init = max(
            (amount(c, resource) for c in spec.get("initContainers") or []), default=Decimal(0)
        )
        overhead = parse_quantity((spec.get("overhead") or {}).get(resource, "0"))
        out.append(max(total, init) + overhead)
    return int(out[0] * 1000), int(out[1])


def constraints_of(spec: Obj) -> Constraints:
    terms: list[NodeSelectorTerm] = []
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        if term.get("matchFields"):
            raise Invalid(
                "required node affinity uses matchFields, which Quotient does not "
                "support; select nodes by label (kubernetes.io/hostname)"
            )
        terms.append(
            NodeSelectorTerm(
                tuple(
                    NodeSelectorRequirement(e["key"], e["operator"], tuple(e.get("values") or ()))
                    for e in term.get("matchExpressions") or []
                )
            )
        )
    return Constraints(
        node_selector=dict(spec.get("nodeSelector") or {}),
        tolerations=tuple(
            Toleration(
                t.get("key") or "",
                t.get("operator") or "Equal",
                t.get("value") or "",
                t.get("effect") or "",
            )
            for t in spec.get("tolerations") or []
        ),
        required_terms=tuple(terms),
    )
