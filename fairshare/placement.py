"""Placement: which node, and which GPUs on it, a pod takes.

Owns the placement policies behind one interface. Whole-GPU pods take idle whole GPUs on
one node: `binpack` picks the node with the fewest idle GPUs that still fits, `spread` the
most. Fractional pods share one GPU and are fragmentation-aware (the FGD habit): they look
at the fractions still pending and avoid leaving a sliver no pending fraction can use, so
the preference is an exact fit, then the tightest shared GPU whose leftover some pending
fraction still fits, then a fresh GPU, and only then a stranding fit. A gang is placed pod by
pod under a ledger checkpoint and rolled back whole if any pod does not fit. It must not
decide who may be placed (decide.py) nor evict (preemption.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from fairshare.ledger import WHOLE, Holder, Ledger
from fairshare.model import PodAssignment, PodSpec, Workload

_TOP = "\U0010ffff"  # sorts after every node name


@dataclass
class PendingFractions:
    """The multiset of fractional requests still waiting, for fragmentation awareness."""

    _count: Counter[int] = field(default_factory=Counter)
    _sizes: SortedList = field(default_factory=SortedList)

    def add(self, milli: int) -> None:
        if self._count[milli] == 0:
            self._sizes.add(milli)
        self._count[milli] += 1

    def discard(self, milli: int) -> None:
        if self._count[milli] > 0:
            self._count[milli] -= 1
            if self._count[milli] == 0:
                self._sizes.remove(milli)

    def smallest(self) -> int:
        """The smallest pending fraction, or 1 when none waits (then any leftover is fine)."""
        return int(self._sizes[0]) if self._sizes else 1


@dataclass
class Placer:
    ledger: Ledger
    policy: str = "binpack"
    fractions: PendingFractions = field(default_factory=PendingFractions)

    def place(
        self,
        workload: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        only_node: str | None = None,
    ) -> tuple[PodAssignment, ...] | None:
        """Hold every pod of the workload, or nothing (ledger rolled back) and None."""
        mark = self.ledger.checkpoint()
        placed: list[PodAssignment] = []
        for pod in workload.pods:
            a = self.place_pod(pod, eligible, only_node)
            if a is None:
                self.ledger.rollback(mark)
                return None
            self.ledger.hold(a, holder)
            placed.append(a)
        return tuple(placed)

    def place_pod(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None = None
    ) -> PodAssignment | None:
        if pod.gpu.is_fractional:
            return self._place_fraction(pod, eligible, only_node)
        return self._place_whole(pod, eligible, only_node)

    # ------------------------------------------------------------------ whole GPUs

    def _fits_host(self, node: str, pod: PodSpec, eligible: frozenset[str] | None) -> bool:
        return (
            (eligible is None or node in eligible)
            and self.ledger.cpu_free[node] >= pod.cpu_milli
            and self.ledger.mem_free[node] >= pod.memory_bytes
        )

    def _nodes_with_idle(self, at_least: int, only_node: str | None) -> Iterator[str]:
        if only_node is not None:
            listed = not self.ledger.nodes[only_node].unschedulable
            if listed and self.ledger.whole_free[only_node] >= at_least:
                yield only_node
            return
        found = self.ledger.whole_index.irange((at_least, ""), None)
        rows = reversed(list(found)) if self.policy == "spread" else found
        for _, node in rows:
            yield node

    def _place_whole(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> PodAssignment | None:
        n = pod.gpu.whole
        for node in self._nodes_with_idle(n, only_node):
            if self._fits_host(node, pod, eligible):
                gpus = tuple(self.ledger.idle_whole_gpus(node)[:n])
                return PodAssignment(
                    pod.name, node, gpus, n * WHOLE, None, pod.cpu_milli, pod.memory_bytes
                )
        return None

    # ------------------------------------------------------------------- fractions

    def _assignment(self, pod: PodSpec, node: str, gpu: int, milli: int) -> PodAssignment:
        memory = self.ledger.nodes[node].gpu_memory_mib
        limit = pod.gpu.memory_mib or memory * milli // WHOLE
        return PodAssignment(pod.name, node, (gpu,), milli, limit, pod.cpu_milli, pod.memory_bytes)

    def _place_fraction(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> PodAssignment | None:
        if pod.gpu.memory_mib:
            return self._place_by_memory(pod, eligible, only_node)
        f = pod.gpu.fraction_milli
        self.fractions.discard(f)  # a pod never strands itself
        keep = self.fractions.smallest()
        self.fractions.add(f)
        shared = self._shared(f, f, pod, eligible, only_node)  # exact fit
        shared = shared or self._shared(f + keep, WHOLE - 1, pod, eligible, only_node)
        if shared is None and WHOLE - f >= keep:
            shared = self._fresh(pod, eligible, only_node)
        shared = shared or self._shared(f, WHOLE - 1, pod, eligible, only_node)
        shared = shared or self._fresh(pod, eligible, only_node)
        if shared is None:
            return None
        return self._assignment(pod, shared[0], shared[1], f)

    def _shared_rows(self, low: int, high: int, only_node: str | None) -> Iterator[tuple[str, int]]:
        if only_node is not None:
            if self.ledger.nodes[only_node].unschedulable:
                return
            for gpu, free in sorted(enumerate(self.ledger.gpu_free[only_node]), key=lambda r: r[1]):
                if low <= free <= high and free < WHOLE:
                    yield only_node, gpu
            return
        for _, node, gpu in self.ledger.shared_index.irange((low, "", -1), (high, _TOP, 1 << 30)):
            yield node, gpu

    def _shared(
        self,
        low: int,
        high: int,
        pod: PodSpec,
        eligible: frozenset[str] | None,
        only_node: str | None,
    ) -> tuple[str, int] | None:
        for node, gpu in self._shared_rows(low, high, only_node):
            if self._fits_host(node, pod, eligible):
                return node, gpu
        return None

    def _fresh(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> tuple[str, int] | None:
        for node in self._nodes_with_idle(1, only_node):
            if self._fits_host(node, pod, eligible):
                return node, self.ledger.idle_whole_gpus(node)[0]
        return None

    def _place_by_memory(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> PodAssignment | None:
        # The fraction depends on the GPU's memory, so each candidate is sized on its node.
        for node, gpu in self._shared_rows(1, WHOLE - 1, only_node):
            milli = pod.gpu.milli_on(self.ledger.nodes[node].gpu_memory_mib)
            if self.ledger.gpu_free[node][gpu] >= milli and self._fits_host(node, pod, eligible):
                return self._assignment(pod, node, gpu, milli)
        for node in self._nodes_with_idle(1, only_node):
            milli = pod.gpu.milli_on(self.ledger.nodes[node].gpu_memory_mib)
            if milli <= WHOLE and self._fits_host(node, pod, eligible):
                return self._assignment(pod, node, self.ledger.idle_whole_gpus(node)[0], milli)
        return None
