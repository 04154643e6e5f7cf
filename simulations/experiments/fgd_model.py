"""The FGD paper's cluster model and measures (Weng et al., ATC'23), as its simulator defines them.

Owns the replay's node state (free milli per GPU, free CPU and memory, GPU model) and the
paper's definitions, read from the authors' simulator (hkust-adsl/kubernetes-scheduler-
simulator, pkg/utils/frag.go) and re-expressed here:
- the *typical pods*: pod shapes (CPU, milli per GPU, GPU count, model constraint) of the
  original pod list counted, most frequent first, kept until they cover 95% of pods, their
  frequencies renormalised; CPU-only pods included; a CPU request of 0 counts as 100m;
- a node's *fragment amount*: for each typical shape, weighted by its frequency, the idle
  GPU milli on the node that shape cannot use: all of it when the shape does not fit (lacks
  GPU, CPU, model access, or asks no GPU at all), else the idle milli on GPUs too small for
  one of its GPUs;
- the cluster's fragmentation rate: the fragment amount over all idle GPU milli.
It must not choose where pods go (fgd_policies.py) nor replay (fgd_replay.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from simulations.experiments.openb import MILLI, TraceNode, TracePod

POPULARITY = 0.95  # typical shapes cover this share of pods (the authors' run setting)
DEFAULT_CPU_REQUEST = 100  # milli-CPU a pod without a request counts as (kube-scheduler's rule)


@dataclass(frozen=True)
class Shape:
    """A pod shape, as the typical-pod list and the policies see it."""

    cpu_milli: int
    gpu_milli: int  # per GPU; 0 = CPU only
    gpus: int
    spec: tuple[str, ...] = ()


def shape_of(pod: TracePod) -> Shape:
    return Shape(pod.cpu_milli or DEFAULT_CPU_REQUEST, pod.gpu_milli, pod.gpus, pod.gpu_spec)


@dataclass(frozen=True)
class Typical:
    shape: Shape
    weight: float


def typical_shapes(pods: Sequence[TracePod], popularity: float = POPULARITY) -> list[Typical]:
    """The most frequent shapes covering `popularity` of the pods, weights summing to 1."""
    counts = Counter(shape_of(p) for p in pods)
    # Most frequent first; ties the way the authors' reverse sort orders them (larger last).
    ranked = sorted(
        counts.items(),
        key=lambda kv: (kv[1], kv[0].cpu_milli, kv[0].gpu_milli, kv[0].gpus, "|".join(kv[0].spec)),
        reverse=True,
    )
    total = sum(counts.values())
    kept: list[tuple[Shape, int]] = []
    covered = 0
    for shape, n in ranked:
        if covered >= popularity * total:
            break
        kept.append((shape, n))
        covered += n
    return [Typical(s, n / covered) for s, n in kept]


class NodeState:
    """One node of the replay: what is still free on it; `version` counts its changes."""

    __slots__ = ("cpu_free", "gpu_free", "gpus", "mem_free", "model", "name", "version")

    def __init__(self, node: TraceNode) -> None:
        self.name = node.name
        self.model = node.model
        self.gpus = node.gpus
        self.gpu_free = [MILLI] * node.gpus
        self.cpu_free = node.cpu_milli
        self.mem_free = node.memory_mib
        self.version = 0

    def take(self, shape_cpu: int, mem: int, gpu_indices: Sequence[int], milli: int) -> None:
        self.cpu_free -= shape_cpu
        self.mem_free -= mem
        for g in gpu_indices:
            self.gpu_free[g] -= milli
        self.version += 1

    def idle_milli(self) -> int:
        return sum(self.gpu_free)


def accessible(model: str, spec: tuple[str, ...]) -> bool:
    return not spec or model in spec


def gpus_fitting(gpu_free: Sequence[int], milli: int) -> int:
    return sum(1 for f in gpu_free if f >= milli)


def shape_fragment(gpu_free: Sequence[int], cpu_free: int, model: str, s: Shape) -> int:
    """Idle GPU milli on the node that shape `s` cannot use (the paper's per-shape fragment)."""
    idle = sum(gpu_free)
    if s.gpus == 0 or not accessible(model, s.spec) or cpu_free < s.cpu_milli:
        return idle  # CPU-only shapes, no access, or lacking CPU: all idle GPU is fragment
    if gpus_fitting(gpu_free, s.gpu_milli) < s.gpus:
        return idle  # lacks GPU
    return sum(f for f in gpu_free if f < s.gpu_milli)


class FragMeter:
    """Node fragment amounts under one typical-shape list, memoised by node state."""

    def __init__(self, typical: Sequence[Typical]) -> None:
        self.typical = list(typical)
        self._memo: dict[tuple[object, ...], float] = {}

    def node(self, gpu_free: Sequence[int], cpu_free: int, model: str) -> float:
        key = (model, cpu_free, *sorted(gpu_free))
        found = self._memo.get(key)
        if found is None:
            found = sum(
                t.weight * shape_fragment(gpu_free, cpu_free, model, t.shape) for t in self.typical
            )
            self._memo[key] = found
        return found


class ClusterMeter:
    """Allocated GPU milli and the cluster's fragment amount, kept up to date node by node."""

    def __init__(self, nodes: Sequence[NodeState], meter: FragMeter) -> None:
        self.nodes = nodes
        self.meter = meter
        self.capacity_milli = sum(n.gpus * MILLI for n in nodes)
        self._frag = [self._node_frag(n) for n in nodes]
        self.frag_milli = sum(self._frag)
        self.idle_milli = sum(n.idle_milli() for n in nodes)

    def _node_frag(self, n: NodeState) -> float:
        return self.meter.node(n.gpu_free, n.cpu_free, n.model)

    def changed(self, index: int, gpu_milli_taken: int) -> None:
        new = self._node_frag(self.nodes[index])
        self.frag_milli += new - self._frag[index]
        self._frag[index] = new
        self.idle_milli -= gpu_milli_taken

    @property
    def allocated_milli(self) -> int:
        return self.capacity_milli - self.idle_milli

    @property
    def frag_rate(self) -> float:
        return self.frag_milli / self.idle_milli if self.idle_milli else 0.0
