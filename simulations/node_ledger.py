"""What the in-memory cluster's nodes hold, and the executor's double-check of a binding.

Owns per-GPU, CPU and memory usage of every node, and the question "may these pods be
bound there?" answered against the cluster's own truth, not the core's ledger: the node
exists and admits the pod (pools, selector, taints, read with the core's own eligibility
rules), the binding gives the pod exactly what it asked for, and no GPU, CPU or memory is
over-committed. A gang is checked as a whole and either fits or changes nothing. It must
not choose placements (the core does) nor know about workload lifecycles (cluster.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fairshare.eligibility import node_admits
from fairshare.model import Constraints, Node, PodAssignment, PodSpec
from fairshare.resources import MILLI_PER_GPU
from fairshare.resources import format_gpus as g

Placed = tuple[PodSpec, PodAssignment]


@dataclass
class _Use:
    gpus: list[int]  # milli-GPUs held on each GPU of the node
    cpu_milli: int = 0
    memory_bytes: int = 0

    def copy(self) -> _Use:
        return _Use(list(self.gpus), self.cpu_milli, self.memory_bytes)


@dataclass
class NodeLedger:
    nodes: Mapping[str, Node]
    _use: dict[str, _Use] = field(default_factory=dict)

    @staticmethod
    def of(nodes: Sequence[Node]) -> NodeLedger:
        ledger = NodeLedger({n.name: n for n in nodes})
        ledger._use = {n.name: _Use([0] * n.gpu_count) for n in nodes}
        return ledger

    def gpu_usage(self) -> dict[str, tuple[int, ...]]:
        """Milli-GPUs held per GPU, per node (sorted by node name)."""
        return {name: tuple(self._use[name].gpus) for name in sorted(self._use)}

    def admit(
        self, placed: Sequence[Placed], constraints: Constraints, pools: Sequence[str]
    ) -> str | None:
        """None if every pod may be bound as given, all together; else why not."""
        trial = {name: use.copy() for name, use in self._use.items()}
        for pod, a in placed:
            error = self._check(trial, pod, a, constraints, pools)
            if error is not None:
                return f"pod {pod.name} on {a.node}: {error}"
            _apply(trial[a.node], pod, a, +1)
        return None

    def take(self, placed: Sequence[Placed]) -> None:
        for pod, a in placed:
            _apply(self._use[a.node], pod, a, +1)

    def release(self, placed: Sequence[Placed]) -> None:
        for pod, a in placed:
            _apply(self._use[a.node], pod, a, -1)

    def _check(
        self,
        trial: Mapping[str, _Use],
        pod: PodSpec,
        a: PodAssignment,
        constraints: Constraints,
        pools: Sequence[str],
    ) -> str | None:
        node = self.nodes.get(a.node)
        if node is None:
            return "no such node"
        why = node_admits(node, constraints, pools)
        if why is not None:
            return f"the node does not admit it ({why})"
        error = _request_error(node, pod, a)
        if error is not None:
            return error
        use = trial[a.node]
        for gpu in a.gpu_indices:
            after = use.gpus[gpu] + _per_gpu(a)
            if after > MILLI_PER_GPU:
                return f"GPU {gpu} would hold {g(after)} GPUs (over-committed)"
        if use.cpu_milli + pod.cpu_milli > node.cpu_milli:
            return f"CPU over-committed ({use.cpu_milli + pod.cpu_milli}m of {node.cpu_milli}m)"
        if use.memory_bytes + pod.memory_bytes > node.memory_bytes:
            return "memory over-committed"
        return None


def _per_gpu(a: PodAssignment) -> int:
    return a.gpu_milli if len(a.gpu_indices) == 1 else MILLI_PER_GPU


def _request_error(node: Node, pod: PodSpec, a: PodAssignment) -> str | None:
    """Does the binding give the pod exactly what it asks for, on GPUs that exist?"""
    asked = pod.gpu.milli_on(node.gpu_memory_mib)
    if a.gpu_milli != asked:
        return f"the binding gives {g(a.gpu_milli)} GPUs, the pod asks for {g(asked)}"
    if len(set(a.gpu_indices)) != len(a.gpu_indices):
        return f"GPU indices repeat: {list(a.gpu_indices)}"
    if any(not 0 <= i < node.gpu_count for i in a.gpu_indices):
        return f"GPU indices {list(a.gpu_indices)} outside 0..{node.gpu_count - 1}"
    want = 1 if pod.gpu.is_fractional else pod.gpu.whole
    if len(a.gpu_indices) != want:
        return f"needs {want} GPU index(es), the binding names {len(a.gpu_indices)}"
    return None


def _apply(use: _Use, pod: PodSpec, a: PodAssignment, sign: int) -> None:
    for gpu in a.gpu_indices:
        use.gpus[gpu] += sign * _per_gpu(a)
    use.cpu_milli += sign * pod.cpu_milli
    use.memory_bytes += sign * pod.memory_bytes
