"""The `quotient` policy of the FGD replay: the live scheduler's own placement.

Owns the bridge from the replay's pods to `fairshare.placement.Placer`, the object
`fairshare.decide` places with, unchanged and with its default policy: the cluster as a
`Ledger` of fairshare `Node`s, each pod a one-pod `Workload` whose `gpu_spec` becomes the
set of nodes it may use, and the pod-shape mix the placer measures fragmentation against:
the pods that have arrived so far (what a live cycle sees as running and pending),
refreshed every 64 arrivals up to 1,024 and every 1,024 after. It must not score nodes itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from fairshare.fragmentation import PodShape, ShapeMix
from fairshare.ledger import Holder, Ledger
from fairshare.model import GpuRequest, Node, PodSpec, Workload
from fairshare.placement import Placer
from fairshare.quota_tree import Project, QuotaTree
from simulations.experiments.fgd_model import NodeState
from simulations.experiments.fgd_policies import Choice, Request
from simulations.experiments.openb import MILLI, TraceNode

MIB = 1 << 20
PROJECT = "trace"
REFRESH_EARLY, REFRESH_EVERY = 64, 1024


def _node(n: TraceNode) -> Node:
    return Node(
        n.name, gpu_count=n.gpus, gpu_model=n.model, cpu_milli=n.cpu_milli,
        memory_bytes=n.memory_mib * MIB, labels={"nvidia.com/gpu.product": n.model},
    )


def pod_spec(name: str, r: Request) -> PodSpec:
    s = r.shape
    if s.gpus == 0:
        gpu = GpuRequest()
    elif s.gpu_milli < MILLI:
        gpu = GpuRequest(fraction_milli=s.gpu_milli)
    else:
        gpu = GpuRequest(whole=s.gpus)
    return PodSpec(name, gpu, s.cpu_milli, r.memory_mib * MIB)


class QuotientPolicy:
    name = "quotient"

    def __init__(self, nodes: Sequence[NodeState], trace_nodes: Sequence[TraceNode]) -> None:
        tree = QuotaTree.build([Project(PROJECT, deserved_milli=0)])
        self.ledger = Ledger(sorted((_node(n) for n in trace_nodes), key=lambda n: n.name), tree)
        self.placer = Placer(self.ledger)
        self.holder = Holder(PROJECT, non_preemptible=False)
        self.index = {n.name: i for i, n in enumerate(nodes)}
        self.models = {n.name: n.model for n in trace_nodes}
        self.eligible: dict[tuple[str, ...], frozenset[str]] = {}
        self.arrived = ShapeMix()
        self.count = 0

    def _eligible(self, r: Request) -> frozenset[str] | None:
        spec = r.shape.spec
        if not spec or r.shape.gpus == 0:
            return None
        found = self.eligible.get(spec)
        if found is None:
            found = frozenset(n for n, m in self.models.items() if m in spec)
            self.eligible[spec] = found
        return found

    def _learn(self, pod: PodSpec) -> None:
        self.arrived.add(PodShape.of(pod))
        self.count += 1
        c = self.count
        if c % (REFRESH_EARLY if c <= REFRESH_EVERY else REFRESH_EVERY) == 0:
            snapshot = ShapeMix()
            for shape, n in self.arrived.counts.items():
                snapshot.add(shape, n)
            self.placer.use_mix(snapshot)

    def choose(self, r: Request) -> Choice | None:
        pod = pod_spec(f"pod-{self.count}", r)
        self._learn(pod)
        placed = self.placer.place(
            Workload(pod.name, PROJECT, (pod,)), self._eligible(r), self.holder
        )
        if placed is None:
            return None
        (a,) = placed
        return self.index[a.node], a.gpu_indices

    def placed(self, index: int, r: Request) -> None:
        """The placer's ledger already holds the pod."""
