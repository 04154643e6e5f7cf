"""Placement: which node, and which GPUs on it, a pod takes.

Owns the placement policies behind one interface. `binpack` (the default) is
fragmentation-aware: among the nodes and GPUs the pod fits (GPUs, CPU, memory), it takes
the one whose node fragment under the cycle's pod-shape mix grows least (the FGD measure of
fragmentation.py, compared at FGD's score levels), ties going to bin-packing: for whole
GPUs the node with the fewest idle GPUs that still fits; for fractions an exact fit first,
then shared GPUs leaving room for a pending fraction and fresh GPUs (the fragment decides),
and a sliver-leaving fit last. A mix of under 32 pods is not a sample: plain bin-packing
decides. A cycle scores a bounded number of spots (SCAN_BUDGET over its pending pods, at
least SCAN_FLOOR per pod, in tie-break order). `spread` takes the node with the most idle
GPUs. Scores are memoised by node state within the placer's life (one cycle). A gang is
placed pod by pod under a ledger checkpoint and rolled back whole if any pod does not fit.
It must not decide who may be placed (decide.py) nor evict (preemption.py).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from fairshare.fragmentation import FragmentMeter, ShapeMix, growth_level
from fairshare.ledger import WHOLE, Holder, Ledger
from fairshare.model import PodAssignment, PodSpec, Workload

_TOP = "\U0010ffff"  # sorts after every node name
# Spots a cycle may score, spread over its pending pods, in tie-break (bin-packing) order:
# a cycle with a few pending pods weighs the whole cluster for each; one with thousands
# weighs at least the fullest SCAN_FLOOR spots per pod, which keeps a cycle of thousands
# of placements on thousands of nodes within its budget (`quotient bench cycle`).
SCAN_BUDGET = 200_000
SCAN_FLOOR = 64


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
    mix: ShapeMix = field(default_factory=ShapeMix)
    scan_limit: int = SCAN_BUDGET
    _meter: FragmentMeter | None = field(default=None, init=False, repr=False)
    _growth: dict[tuple[object, ...], int] = field(default_factory=dict, init=False, repr=False)

    def use_mix(self, mix: ShapeMix, pending_pods: int = 1) -> None:
        """Measure fragmentation against this mix from now on, for this many pending pods."""
        self.mix = mix
        self._meter = None
        self.scan_limit = max(SCAN_FLOOR, SCAN_BUDGET // max(pending_pods, 1))

    def _frag(self) -> FragmentMeter | None:
        if self.policy == "spread":
            return None
        if self._meter is None or self._meter.version != self.mix.version:
            self._meter = FragmentMeter(self.mix)
            self._growth.clear()
        return self._meter if self._meter.active else None

    def _level_of(self, meter: FragmentMeter, node: str, pod: PodSpec, level: int) -> int:
        """FGD's level (higher is better) of the node's fragment growth if the pod takes its
        GPUs there. `level`: the free milli of the GPU a fraction takes; WHOLE for whole GPUs
        (any idle ones: the fragment does not depend on which)."""
        free = self.ledger.gpu_free[node]
        cpu, mem = self.ledger.cpu_free[node], self.ledger.mem_free[node]
        key = (tuple(free), cpu, mem, level, pod.gpu.whole, pod.gpu.fraction_milli,
               pod.cpu_milli, pod.memory_bytes)
        found = self._growth.get(key)
        if found is None:
            after = list(free)
            if pod.gpu.fraction_milli:
                after[after.index(level)] -= pod.gpu.fraction_milli
            else:
                for _ in range(pod.gpu.whole):
                    after[after.index(WHOLE)] = 0
            before = meter.fragment(free, cpu, mem)
            growth = meter.fragment(after, cpu - pod.cpu_milli, mem - pod.memory_bytes) - before
            found = growth_level(growth, meter.total_weight)
            self._growth[key] = found
        return found

    def _least_growth(
        self, meter: FragmentMeter, spots: Iterator[tuple[str, int]], pod: PodSpec
    ) -> tuple[str, int] | None:
        """The first spot (they come in tie-break order) whose fragment grows least, growths
        compared at FGD's level; a spot is (node, free milli of the GPU a fraction takes, or
        WHOLE)."""
        best: tuple[str, int] | None = None
        best_level = -1
        seen: set[tuple[str, int]] = set()
        for spot in itertools.islice(spots, self.scan_limit):
            if spot in seen:
                continue  # another GPU at the same level of the same node: the same result
            seen.add(spot)
            level = self._level_of(meter, spot[0], pod, spot[1])
            if level > best_level:
                best, best_level = spot, level
        return best

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

    def _whole_spots(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> Iterator[tuple[str, int]]:
        for node in self._nodes_with_idle(pod.gpu.whole, only_node):
            if self._fits_host(node, pod, eligible):
                yield node, WHOLE

    def _place_whole(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> PodAssignment | None:
        n = pod.gpu.whole
        spots = self._whole_spots(pod, eligible, only_node)
        meter = self._frag()
        spot = next(spots, None) if meter is None else self._least_growth(meter, spots, pod)
        if spot is None:
            return None
        node = spot[0]
        gpus = tuple(self.ledger.idle_whole_gpus(node)[:n])
        return PodAssignment(pod.name, node, gpus, n * WHOLE, None, pod.cpu_milli, pod.memory_bytes)

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
        meter = self._frag()
        if meter is not None:
            spot = None
            for band in self._fraction_bands(f, keep, pod, eligible, only_node):
                spot = self._least_growth(meter, band, pod)
                if spot is not None:
                    break
            if spot is None:
                return None
            node, level = spot
            gpu = self.ledger.gpu_free[node].index(level)
            return self._assignment(pod, node, gpu, f)
        shared = self._shared(f, f, pod, eligible, only_node)  # exact fit
        shared = shared or self._shared(f + keep, WHOLE - 1, pod, eligible, only_node)
        if shared is None and WHOLE - f >= keep:
            shared = self._fresh(pod, eligible, only_node)
        shared = shared or self._shared(f, WHOLE - 1, pod, eligible, only_node)
        shared = shared or self._fresh(pod, eligible, only_node)
        if shared is None:
            return None
        return self._assignment(pod, shared[0], shared[1], f)

    def _fraction_bands(
        self,
        f: int,
        keep: int,
        pod: PodSpec,
        eligible: frozenset[str] | None,
        only_node: str | None,
    ) -> Iterator[Iterator[tuple[str, int]]]:
        """The GPUs the fraction fits, as (node, the GPU's free milli), band by band: exact
        fits; then shared GPUs leaving room for a pending fraction and fresh GPUs, one band
        (the fragment decides); then shared GPUs leaving a sliver no pending fraction fits."""
        fresh_ok = WHOLE - f >= keep
        stranding = (f + 1, min(f + keep - 1, WHOLE - 1))
        yield self._shared_spots(f, f, pod, eligible, only_node)
        roomy = self._shared_spots(f + keep, WHOLE - 1, pod, eligible, only_node)
        if fresh_ok:
            roomy = itertools.chain(roomy, self._fresh_spots(pod, eligible, only_node))
        yield roomy
        yield self._shared_spots(*stranding, pod, eligible, only_node)
        if not fresh_ok:
            yield self._fresh_spots(pod, eligible, only_node)

    def _shared_spots(
        self, low: int, high: int, pod: PodSpec, eligible: frozenset[str] | None,
        only_node: str | None,
    ) -> Iterator[tuple[str, int]]:
        for node, gpu in self._shared_rows(low, high, only_node):
            if self._fits_host(node, pod, eligible):
                yield node, self.ledger.gpu_free[node][gpu]

    def _fresh_spots(
        self, pod: PodSpec, eligible: frozenset[str] | None, only_node: str | None
    ) -> Iterator[tuple[str, int]]:
        for node in self._nodes_with_idle(1, only_node):
            if self._fits_host(node, pod, eligible):
                yield node, WHOLE

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
