"""The snapshot a cycle decides on, and the plan it emits.

Owns the frozen value types shared by every part of Quotient: nodes, GPU requests,
workloads (gangs of pods), running workloads and where their pods sit, the policy knobs,
and the cycle plan (bindings, evictions, one pending reason per waiting workload). It must
not hold behaviour beyond small derived properties: deciding lives in decide.py and its
helpers, and translating from Kubernetes or scenario files lives at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from fairshare.quota_tree import Project, QuotaTree
from fairshare.resources import MILLI_PER_GPU

DEFAULT_POOL = "default"
POOL_LABEL = "quotient.io/node-pool"


class WorkloadType(StrEnum):
    TRAIN = "train"
    INTERACTIVE = "interactive"
    INFERENCE = "inference"


class ReasonCode(StrEnum):
    """Why a workload waits, or why a pod was evicted. One code, one meaning."""

    UNSCHEDULABLE = "Unschedulable"  # no node has room for it now
    NO_MATCHING_NODE = "NoMatchingNode"  # selectors, taints, pools or size exclude every node
    OVER_LIMIT = "OverLimit"  # would exceed the project's (or a department's) limit_gpus
    OVER_DESERVED = "OverDeserved"  # non-preemptible and would exceed deserved_gpus
    OVER_FAIR_SHARE = "OverFairShare"  # at its fair share; waits for idle GPUs or a reclaim
    RECLAIMING = "Reclaiming"  # victims are being evicted to make room for it
    GANG_INCOMPLETE = "GangIncomplete"  # fewer pods exist than the gang's minimum
    PROJECT_NOT_FOUND = "ProjectNotFound"
    INVALID_REQUEST = "InvalidRequest"
    # eviction reasons
    RECLAIMED = "Reclaimed"  # evicted so another project gets its fair share back
    PREEMPTED = "Preempted"  # evicted for higher-priority work of the same project
    MOVED = "Moved"  # evicted to be re-placed at once elsewhere, making a block for another
    RUN_TIME_LIMIT_EXCEEDED = "RunTimeLimitExceeded"


# ---------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"  # NoSchedule | PreferNoSchedule | NoExecute


@dataclass(frozen=True)
class Toleration:
    key: str = ""  # "" with operator Exists tolerates everything
    operator: str = "Equal"  # Equal | Exists
    value: str = ""
    effect: str = ""  # "" matches every effect


@dataclass(frozen=True)
class NodeSelectorRequirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist | Gt | Lt
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSelectorTerm:
    """All requirements must hold (AND); a pod's terms are alternatives (OR)."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = ()


@dataclass(frozen=True)
class Node:
    name: str
    gpu_count: int = 0  # whole physical GPUs (time-slicing replicas already divided out)
    gpu_memory_mib: int = 0  # memory of each GPU
    gpu_model: str = ""
    cpu_milli: int = 0  # allocatable
    memory_bytes: int = 0  # allocatable
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False

    @property
    def pool(self) -> str:
        return self.labels.get(POOL_LABEL, DEFAULT_POOL)


@dataclass(frozen=True)
class ForeignUsage:
    """What pods placed by other schedulers hold on a node; we count it as used."""

    node: str
    gpus: int = 0
    cpu_milli: int = 0
    memory_bytes: int = 0


# ------------------------------------------------------------------------ workloads


@dataclass(frozen=True)
class GpuRequest:
    """Per-pod GPU ask: exactly one of whole GPUs, a fraction, or GPU memory (or nothing)."""

    whole: int = 0  # nvidia.com/gpu
    fraction_milli: int = 0  # gpu-fraction x1000, 1..999 (1000 is a whole GPU)
    memory_mib: int = 0  # gpu-memory: converted to a fraction of the chosen GPU's memory

    @property
    def is_fractional(self) -> bool:
        return self.fraction_milli > 0 or self.memory_mib > 0

    def milli_on(self, gpu_memory_mib: int) -> int:
        """GPU milli this pod takes on a GPU with that much memory."""
        if self.whole:
            return self.whole * MILLI_PER_GPU
        if self.fraction_milli:
            return self.fraction_milli
        if self.memory_mib:
            if gpu_memory_mib <= 0:
                return MILLI_PER_GPU + 1  # unknown memory: can never fit a memory request
            return -(-self.memory_mib * MILLI_PER_GPU // gpu_memory_mib)  # ceiling
        return 0


@dataclass(frozen=True)
class PodSpec:
    name: str  # unique in the cluster, e.g. "namespace/pod"
    gpu: GpuRequest = GpuRequest()
    cpu_milli: int = 0
    memory_bytes: int = 0


@dataclass(frozen=True)
class Constraints:
    """Where a workload's pods may run, exactly as the default scheduler reads a pod spec."""

    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    required_terms: tuple[NodeSelectorTerm, ...] = ()  # required node affinity (OR of terms)

    def key(self) -> tuple[object, ...]:
        """A hashable identity, so node eligibility is computed once per distinct shape."""
        return (tuple(sorted(self.node_selector.items())), self.tolerations, self.required_terms)


NO_CONSTRAINTS = Constraints()


@dataclass(frozen=True)
class Workload:
    """A gang scheduled all-or-nothing; a lone pod is a workload of one."""

    name: str  # unique id, e.g. "namespace/gang-name"
    project: str
    pods: tuple[PodSpec, ...]
    min_pods: int = 0  # gang minimum; 0 = all pods
    type: WorkloadType = WorkloadType.TRAIN
    preemptible: bool | None = None  # None = default for the type (train only)
    priority: int = 0
    submit_time: int = 0  # seconds; orders workloads inside a project
    constraints: Constraints = NO_CONSTRAINTS
    invalid_reason: str | None = None  # set at the edge when the pod spec is contradictory

    @property
    def is_preemptible(self) -> bool:
        if self.preemptible is not None:
            return self.preemptible
        return self.type == WorkloadType.TRAIN

    @property
    def gang_minimum(self) -> int:
        return self.min_pods or len(self.pods)

    def demand_milli(self, gpu_memory_mib: int) -> int:
        """GPU milli of all pods, memory requests sized against GPUs of that memory."""
        return sum(p.gpu.milli_on(gpu_memory_mib) for p in self.pods)


def run_time_limit(project: Project, kind: WorkloadType) -> int | None:
    """Seconds a workload of that type may run in that project (None: no limit)."""
    if kind == WorkloadType.INTERACTIVE:
        return project.max_interactive_seconds
    return project.max_training_seconds if kind == WorkloadType.TRAIN else None


@dataclass(frozen=True)
class PodAssignment:
    """Where one pod of a workload sits (or is to be bound)."""

    pod: str
    node: str
    gpu_indices: tuple[int, ...] = ()  # which GPUs of the node (one for a fraction)
    gpu_milli: int = 0  # total GPU milli the pod holds
    gpu_memory_limit_mib: int | None = None  # for fractional pods: what the binding tells it
    cpu_milli: int = 0
    memory_bytes: int = 0


@dataclass(frozen=True)
class RunningWorkload:
    workload: Workload
    assignments: tuple[PodAssignment, ...]
    started_at: int  # seconds
    terminating: bool = False  # evicted or deleted, still holding its resources

    @cached_property
    def gpu_milli(self) -> int:
        return sum(a.gpu_milli for a in self.assignments)


@dataclass(frozen=True)
class Policy:
    """Knobs an operator sets; defaults are what a production cluster wants."""

    max_reclaim_milli_per_cycle: int | None = None  # GPUs a cycle may evict by reclaim
    min_runtime_seconds: int = 0  # a running workload younger than this is never a victim
    placement: str = "binpack"  # binpack | spread
    reclaim: bool = True
    preempt: bool = True


@dataclass(frozen=True)
class Snapshot:
    """Everything a cycle decides on; nothing else is read."""

    nodes: tuple[Node, ...]
    quota: QuotaTree
    running: tuple[RunningWorkload, ...] = ()
    pending: tuple[Workload, ...] = ()
    foreign: tuple[ForeignUsage, ...] = ()
    now: int = 0
    # Workloads the previous cycle made room for (workload -> nodes), placed first so the
    # room is not taken by someone else while the victims terminate.
    nominated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Binding:
    workload: str
    project: str
    assignment: PodAssignment


@dataclass(frozen=True)
class Eviction:
    workload: str
    project: str
    pods: tuple[PodAssignment, ...]
    reason: ReasonCode
    message: str
    by: str = ""  # the pending workload it makes room for ("" for a run-time limit)

    @property
    def kind(self) -> str:
        """reclaim | preempt | move | run-time-limit, as the result document names it."""
        return EVICTION_KINDS[self.reason]

    @property
    def gpu_milli(self) -> int:
        return sum(a.gpu_milli for a in self.pods)


EVICTION_KINDS = {
    ReasonCode.RECLAIMED: "reclaim",
    ReasonCode.PREEMPTED: "preempt",
    ReasonCode.MOVED: "move",
    ReasonCode.RUN_TIME_LIMIT_EXCEEDED: "run-time-limit",
}


@dataclass(frozen=True)
class PendingReason:
    code: ReasonCode
    message: str
    project: str = ""  # the waiting workload's project; filled in when the plan is built


@dataclass(frozen=True)
class ProjectSummary:
    name: str
    deserved_milli: int
    fair_share_milli: int
    allocated_milli: int  # after the plan is applied
    running: int  # workloads running after the plan
    pending: int  # workloads still pending after the plan
    demand_milli: int


@dataclass(frozen=True)
class CyclePlan:
    bindings: tuple[Binding, ...] = ()
    evictions: tuple[Eviction, ...] = ()
    pending: Mapping[str, PendingReason] = field(default_factory=dict)  # workload -> reason
    projects: Mapping[str, ProjectSummary] = field(default_factory=dict)
    capacity_milli: int = 0
    nominated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # for next cycle

    @property
    def allocated_milli(self) -> int:
        return sum(p.allocated_milli for p in self.projects.values())
