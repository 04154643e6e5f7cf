"""GPU sharing modes of the NVIDIA device plugin, read from a node and a pod, in core terms.

Owns what a node's GPUs are under each mode the GPU Operator (or the device plugin with GPU
Feature Discovery) sets up, and what a pod's MIG request costs:

- exclusive: `nvidia.com/gpu` devices are whole GPUs;
- time-slicing or MPS (`nvidia.com/gpu.replicas`, `nvidia.com/gpu.sharing-strategy`): the
  plugin advertises `replicas` devices per GPU; quota counts physical GPUs, and a whole-GPU
  pod must never be bound there (its "GPU" would be a replica others share), so the node
  gets a taint only pods that ask for no whole GPU tolerate;
- MIG "single" (`nvidia.com/mig.strategy: single`): every `nvidia.com/gpu` is a slice of one
  profile (`nvidia.com/gpu.product` ends in `-MIG-<profile>`, or `nvidia.com/mig.config` is
  `all-<profile>`);
- MIG "mixed": slices are advertised as `nvidia.com/mig-<profile>` resources.

How MIG is represented in the core, without changing `fairshare/`: a MIG node is a node of
its physical GPUs, tainted so only MIG pods go there, and labelled
`quotient.io/mig-<profile>` for each profile it serves. A pod asking for `n` slices of a
profile `<N>g.<M>gb` is a fractional pod of `n x N/7` of a GPU (`N/4` on an A30), rounded
down to milli-GPUs, with a required node affinity on that label: `1g.10gb` costs 1/7 of a
GPU. Such fractions pack as many to a GPU as its compute slices allow and one more never
fits, so a GPU sliced in one profile is counted exactly; profiles that run out of memory
before compute (`1g.20gb`, 4 to a GPU) and GPUs sliced in several profiles at once are
counted by compute share only (see docs/install.md). It must not do I/O nor decide anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from fairshare.model import (
    Constraints,
    GpuRequest,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Taint,
    Toleration,
)
from fairshare.resources import MILLI_PER_GPU

GPU = "nvidia.com/gpu"
MIG_RESOURCE = "nvidia.com/mig-"
REPLICAS_LABEL = "nvidia.com/gpu.replicas"
STRATEGY_LABEL = "nvidia.com/gpu.sharing-strategy"
MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
MIG_CONFIG_STATE_LABEL = "nvidia.com/mig.config.state"
PRODUCT_LABEL = "nvidia.com/gpu.product"
MEMORY_LABEL = "nvidia.com/gpu.memory"
COUNT_LABEL = "nvidia.com/gpu.count"
SHARING_TAINT = "quotient.io/gpu-sharing"  # on the core's view of a node, never on the cluster
MIG_LABEL = "quotient.io/mig-"  # + profile, on the core's view of a MIG node
_PROFILE = re.compile(r"^(\d+)g\.(\d+)gb(\+\w+)?$")  # 1g.10gb, 1g.10gb+me
_MIG_PRODUCT = re.compile(r"-MIG-(\d+g\.\d+gb(?:\+\w+)?)$")
_PRODUCT_GB = re.compile(r"(\d+)GB")


class Mode(StrEnum):
    EXCLUSIVE = "exclusive"
    TIME_SLICING = "time-slicing"
    MPS = "mps"
    MIG_SINGLE = "mig-single"
    MIG_MIXED = "mig-mixed"


@dataclass(frozen=True)
class MigProfile:
    name: str  # "1g.10gb"
    devices: int  # slices of this profile the node advertises
    per_gpu: int  # slices of this profile one GPU holds (compute and memory permitting)

    @property
    def gpus(self) -> int:
        """Physical GPUs these slices occupy."""
        return math.ceil(self.devices / self.per_gpu)


@dataclass(frozen=True)
class NodeGpus:
    mode: Mode
    physical: int  # GPUs quota counts on this node
    replicas: int = 1  # devices advertised per GPU under time-slicing or MPS
    mig: tuple[MigProfile, ...] = ()

    @property
    def shared(self) -> bool:
        return self.mode != Mode.EXCLUSIVE

    def taints(self) -> tuple[Taint, ...]:
        """What keeps pods the node cannot serve off it, in the core's view only."""
        return (Taint(SHARING_TAINT, self.mode.value),) if self.shared else ()

    def labels(self) -> dict[str, str]:
        return {MIG_LABEL + p.name: str(p.devices) for p in self.mig}


# ------------------------------------------------------------------------------ nodes


def read_node(allocatable: Mapping[str, str], labels: Mapping[str, str]) -> NodeGpus:
    """The node's GPUs under its sharing mode, from its allocatable and GFD's labels."""
    mixed = {
        name.removeprefix(MIG_RESOURCE): count
        for name, value in allocatable.items()
        if name.startswith(MIG_RESOURCE) and (count := _count(value)) > 0
    }
    advertised = _count(allocatable.get(GPU, "0"))
    if mixed:  # GFD labels every node "mixed"; only one advertising slices is a MIG node
        profiles = tuple(_profile(p, n, labels) for p, n in sorted(mixed.items()))
        # Slices of several profiles may share a GPU: never count more GPUs than GFD saw,
        # less the ones left whole (those are not offered: see NodeGpus.taints).
        physical = sum(p.gpus for p in profiles)
        if COUNT_LABEL in labels:
            physical = min(physical, max(_label(labels, COUNT_LABEL, 0) - advertised, 0))
        return NodeGpus(Mode.MIG_MIXED, physical, mig=profiles)
    single = single_profile(labels)
    if single is not None and advertised:
        profile = _profile(single, advertised, labels)
        return NodeGpus(Mode.MIG_SINGLE, profile.gpus, mig=(profile,))
    replicas = _label(labels, REPLICAS_LABEL, 1)
    strategy = labels.get(STRATEGY_LABEL, "")
    if replicas > 1 or strategy in (Mode.TIME_SLICING, Mode.MPS):
        mode = Mode.MPS if strategy == Mode.MPS else Mode.TIME_SLICING
        return NodeGpus(mode, advertised // replicas, replicas=replicas)
    return NodeGpus(Mode.EXCLUSIVE, advertised)


def node_gpus(allocatable: Mapping[str, str], labels: Mapping[str, str]) -> int:
    """Physical GPUs of a node, whatever its sharing mode: what its quota capacity is."""
    return read_node(allocatable, labels).physical


def single_profile(labels: Mapping[str, str]) -> str | None:
    """The profile of a MIG-single node: from the product (`A100-SXM4-80GB-MIG-1g.10gb`),
    else from the MIG manager's `all-<profile>` configuration once it reports success."""
    if labels.get(MIG_STRATEGY_LABEL) != "single":
        return None
    found = _MIG_PRODUCT.search(labels.get(PRODUCT_LABEL, ""))
    if found:
        return found.group(1)
    if labels.get(MIG_CONFIG_STATE_LABEL) != "success":
        return None  # a configuration not applied yet: the devices are still whole GPUs
    config = labels.get(MIG_CONFIG_LABEL, "").removeprefix("all-")
    return config if _PROFILE.match(config) else None


def _profile(name: str, devices: int, labels: Mapping[str, str]) -> MigProfile:
    per_gpu = slices_per_gpu(name, labels.get(PRODUCT_LABEL, ""), _full_memory_gb(labels))
    return MigProfile(name, devices, per_gpu)


def slices_per_gpu(profile: str, product: str, full_memory_gb: int = 0) -> int:
    """How many slices of a profile one GPU holds: bounded by its compute slices (7, or 4
    on an A30) and, where the GPU's memory is known, by its 8 (A30: 4) memory slices."""
    match = _PROFILE.match(profile)
    if match is None:
        raise ValueError(f"MIG profile {profile!r} is not of the form <N>g.<M>gb")
    compute = 4 if "A30" in product or _is_a30_profile(profile) else 7
    per_gpu = compute // max(int(match.group(1)), 1)
    if full_memory_gb > 0:
        memory_slices = compute + 1 if compute == 7 else compute
        used = max(round(int(match.group(2)) * memory_slices / full_memory_gb), 1)
        per_gpu = min(per_gpu, memory_slices // used)
    return max(per_gpu, 1)


def profile_milli(profile: str) -> int:
    """What one slice costs against quota, whatever node it lands on: its compute share
    `N/7` of a GPU (`N/4` on an A30), rounded down so that a full GPU's worth still fits."""
    match = _PROFILE.match(profile)
    if match is None:
        raise ValueError(f"MIG profile {profile!r} is not of the form <N>g.<M>gb")
    compute = 4 if _is_a30_profile(profile) else 7
    return min(int(match.group(1)) * MILLI_PER_GPU // compute, MILLI_PER_GPU)


def _is_a30_profile(profile: str) -> bool:
    # The A30 (24 GB, 4 compute slices) is the one GPU whose profiles are 6 GB per slice.
    return profile.split("+")[0] in ("1g.6gb", "2g.12gb", "4g.24gb")


def _full_memory_gb(labels: Mapping[str, str]) -> int:
    """A whole GPU's memory: the product name says it (`A100-SXM4-80GB`); on mixed nodes
    `nvidia.com/gpu.memory` is the whole GPU's (on single nodes it is the slice's)."""
    product = _MIG_PRODUCT.sub("", labels.get(PRODUCT_LABEL, ""))
    found = _PRODUCT_GB.search(product)
    if found:
        return int(found.group(1))
    if labels.get(MIG_STRATEGY_LABEL) == "single":
        return 0
    return round(_label(labels, MEMORY_LABEL, 0) / 1024)


# ------------------------------------------------------------------------------- pods


@dataclass(frozen=True)
class MigRequest:
    profile: str
    slices: int

    @property
    def milli(self) -> int:
        """What these slices cost against quota."""
        return profile_milli(self.profile) * self.slices

    def gpu_request(self) -> GpuRequest:
        """The core's view: a share of one GPU, or whole GPUs for the whole-GPU profile."""
        if self.milli < MILLI_PER_GPU:
            return GpuRequest(fraction_milli=self.milli)
        if profile_milli(self.profile) == MILLI_PER_GPU:
            return GpuRequest(whole=self.slices)
        raise ValueError(
            f'limits["{MIG_RESOURCE}{self.profile}"]: {self.slices} slices of {self.profile} '
            "are more than one GPU holds; ask for fewer, or for a larger profile"
        )

    def requirement(self) -> NodeSelectorRequirement:
        return NodeSelectorRequirement(MIG_LABEL + self.profile, "Exists")


def mig_request(
    limits: Mapping[str, object], node_selector: Mapping[str, str]
) -> MigRequest | None:
    """A pod's MIG ask: `nvidia.com/mig-<profile>` limits (mixed), or `nvidia.com/gpu`
    pinned by nodeSelector to a `...-MIG-<profile>` product (single). Raises ValueError
    naming the field for what cannot be served."""
    mixed = {
        k.removeprefix(MIG_RESOURCE): v for k, v in limits.items() if k.startswith(MIG_RESOURCE)
    }
    if len(mixed) > 1:
        raise ValueError(
            f"limits: asks for several MIG profiles ({', '.join(sorted(mixed))}); "
            "one pod gets slices of one profile"
        )
    if mixed:
        ((profile, amount),) = mixed.items()
        return MigRequest(
            _valid_profile(profile, f'limits["{MIG_RESOURCE}{profile}"]'),
            _whole(amount, f'limits["{MIG_RESOURCE}{profile}"]'),
        )
    found = _MIG_PRODUCT.search(node_selector.get(PRODUCT_LABEL, ""))
    if found and GPU in limits:
        return MigRequest(found.group(1), _whole(limits[GPU], f'limits["{GPU}"]'))
    return None


def sharing_tolerations(asks_whole_gpus: bool, mig: MigRequest | None) -> tuple[Toleration, ...]:
    """Which shared nodes a pod may go to: time-sliced ones unless it wants whole GPUs (a
    replica is not a whole GPU); MIG ones only when it asks for MIG slices."""
    if mig is not None:
        return (
            Toleration(SHARING_TAINT, "Equal", Mode.MIG_SINGLE.value),
            Toleration(SHARING_TAINT, "Equal", Mode.MIG_MIXED.value),
        )
    if asks_whole_gpus:
        return ()
    return (
        Toleration(SHARING_TAINT, "Equal", Mode.TIME_SLICING.value),
        Toleration(SHARING_TAINT, "Equal", Mode.MPS.value),
    )


def constrain(
    constraints: Constraints, asks_whole_gpus: bool, mig: MigRequest | None
) -> Constraints:
    """A pod's own constraints plus the sharing rules: the tolerations above and, for a MIG
    pod, a node serving its profile (ANDed into every required-affinity term)."""
    tolerations = constraints.tolerations + sharing_tolerations(asks_whole_gpus, mig)
    terms = constraints.required_terms
    if mig is not None:
        need = mig.requirement()
        terms = tuple(NodeSelectorTerm((*t.match_expressions, need)) for t in terms) or (
            NodeSelectorTerm((need,)),
        )
    return replace(constraints, tolerations=tolerations, required_terms=terms)


def pod_limits(spec: Mapping[str, Any]) -> dict[str, object]:
    """The GPU device-plugin limits of a pod's containers, summed per resource name."""
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get("limits") or {}).items():
            if name == GPU or name.startswith(MIG_RESOURCE):
                try:
                    total[name] = total.get(name, Decimal(0)) + Decimal(str(value).strip())
                except InvalidOperation:
                    raise ValueError(f'limits["{name}"] must be a number, got {value!r}') from None
    return dict(total)


def pod_view(
    spec: Mapping[str, Any], gpu: GpuRequest, constraints: Constraints
) -> tuple[GpuRequest, Constraints]:
    """A translated pod's GPU ask and constraints with the sharing modes applied: a MIG pod
    becomes its share of a GPU on a node serving its profile; every pod keeps off the
    shared nodes it cannot use. Raises ValueError naming the field."""
    selector = spec.get("nodeSelector") or {}
    mig = mig_request(pod_limits(spec), selector)
    if mig is not None:
        if gpu.is_fractional:
            raise ValueError(
                f'limits["{MIG_RESOURCE}{mig.profile}"]: a pod asking for MIG slices must not '
                "also ask for a share of a GPU (gpu-fraction, gpu-memory)"
            )
        gpu = mig.gpu_request()
    return gpu, constrain(constraints, gpu.whole > 0 and mig is None, mig)


def asks_for_mig(pod: Mapping[str, Any]) -> bool:
    """Whether a raw pod asks for MIG slices: it is bound as the device plugin's, no
    reservation pod and no ConfigMap, though the core counts it as a share of a GPU."""
    spec = pod.get("spec") or {}
    try:
        return mig_request(pod_limits(spec), spec.get("nodeSelector") or {}) is not None
    except ValueError:
        return False


def is_mig(constraints: Constraints) -> bool:
    """Whether a translated pod asks for MIG slices (bound by the device plugin, no
    reservation): `pod_view` gave it the profile's node affinity."""
    return any(
        r.key.startswith(MIG_LABEL) for t in constraints.required_terms for r in t.match_expressions
    )


def pack_slices(pods: list[tuple[str, str, int]]) -> dict[str, str]:
    """Running MIG pods (key, node, milli) -> a group per GPU they can be told to hold:
    slices of one size fill a GPU before the next, so the core's view of the node's GPUs
    is the one the device plugin's slices make. Deterministic: by node, size, then key."""
    groups: dict[str, str] = {}
    fill: dict[tuple[str, int], tuple[int, int]] = {}  # (node, milli) -> (group, used)
    for key, node, milli in sorted(pods, key=lambda p: (p[1], p[2], p[0])):
        group, used = fill.get((node, milli), (0, 0))
        if used + milli > MILLI_PER_GPU:
            group, used = group + 1, 0
        fill[(node, milli)] = (group, used + milli)
        groups[key] = f"mig:{milli}:{group}"
    return groups


def foreign_gpus(spec: Mapping[str, Any]) -> int:
    """Whole GPUs a pod of another scheduler takes: its `nvidia.com/gpu`, plus the GPUs its
    MIG slices could occupy (rounded up: never count a partly used GPU as free)."""
    try:
        limits = pod_limits(spec)
    except ValueError:
        return 0
    whole = int(Decimal(str(limits.get(GPU, 0))))
    milli = 0
    for name, value in limits.items():
        if name.startswith(MIG_RESOURCE) and _PROFILE.match(name.removeprefix(MIG_RESOURCE)):
            milli += profile_milli(name.removeprefix(MIG_RESOURCE)) * int(Decimal(str(value)))
    return whole + -(-milli // MILLI_PER_GPU)


def _valid_profile(profile: str, where: str) -> str:
    if not _PROFILE.match(profile):
        raise ValueError(f"{where}: {profile!r} is not a MIG profile of the form <N>g.<M>gb")
    return profile


def _whole(amount: object, where: str) -> int:
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{where} must be a whole number of slices, got {amount!r}") from None
    if value != value.to_integral_value() or value < 1:
        raise ValueError(f"{where} must be a whole number of slices, at least 1, got {amount!r}")
    return int(value)


def _count(value: object) -> int:
    try:
        return max(int(Decimal(str(value).strip())), 0)
    except (InvalidOperation, ValueError):
        return 0


def _label(labels: Mapping[str, str], key: str, default: int) -> int:
    try:
        return max(int(labels.get(key, default)), 0)
    except ValueError:
        return default
