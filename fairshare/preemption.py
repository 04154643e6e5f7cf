"""Who is evicted so a pending workload can run: reclaim across projects, preempt inside one.

Owns the victim search (Kueue's GetTargets habit: find targets here, issue nothing): the
fewest workloads (a gang is evicted whole) that make the pending one fit, lowest priority
first, then most recently started. decide.py says who may be a victim (its reclaim and
preempt rules, documented there) through a predicate, and whether a found move is
acceptable; this module finds the move. The search is exact and fast on large clusters:
evictable workloads are indexed once per cycle by node, nodes are tried in the order of a
cheap lower bound on the victims they need, the victims needed on one node are counted
arithmetically, and the search stops as soon as no remaining node can beat the best one.
One real placement under a ledger checkpoint confirms the result; on success the ledger
keeps the victims released and the pending workload held, on failure it is rolled back. It
must not emit evictions (decide.py does) nor choose the order of pending workloads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

from fairshare.ledger import WHOLE, Holder, Ledger
from fairshare.model import PodAssignment, PodSpec, RunningWorkload, Workload
from fairshare.placement import Placer
from fairshare.victims import VictimIndex

Placement = tuple[PodAssignment, ...]
Qualifies = Callable[[RunningWorkload], bool]
_TOP = "\U0010ffff"  # sorts after every node name


@dataclass(frozen=True)
class Found:
    victims: tuple[RunningWorkload, ...]
    placement: Placement


def holder_of(r: RunningWorkload) -> Holder:
    return Holder(r.workload.project, not r.workload.is_preemptible)


Bound = tuple[int, int]  # (victims, GPU milli evicted), compared as a lower bound


def _bound(deficit: int, widest: int, narrowest: int) -> Bound:
    """Fewest victims and least milli that can cover a GPU deficit on a node."""
    if deficit <= 0:  # only CPU or memory is short: one victim might do
        return (1, narrowest)
    if widest <= 0:
        return (1 << 30, 0)  # victims there hold no GPUs: never enough
    return (-(-deficit // widest), max(deficit * WHOLE, narrowest))


@dataclass
class VictimSearch:
    ledger: Ledger
    placer: Placer
    index: VictimIndex = field(default_factory=lambda: VictimIndex([]))

    def find(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        projects: Collection[str],
        accept: Callable[[Found], bool],
        also: Qualifies | None = None,
    ) -> Found | None:
        """The fewest victims of `projects` (passing `also`) that let `pending` fit and
        that `accept` allows."""

        def qualifies(r: RunningWorkload) -> bool:
            return r.workload.project in projects and (also is None or also(r))

        mark = self.ledger.checkpoint()
        if len(pending.pods) == 1:
            found = self._best_single_node(pending, eligible, holder, projects, qualifies)
        else:
            found = self._greedy_then_prune(pending, eligible, holder, qualifies)
        if found is not None and not accept(found):
            self.ledger.rollback(mark)  # the caller's rule (budget, fairness) said no
            return None
        if found is not None:
            self.index.take(found.victims)
        return found

    def _release(self, victims: Sequence[RunningWorkload]) -> None:
        for v in victims:
            for a in v.assignments:
                if a.node in self.ledger.nodes:
                    self.ledger.release(a, holder_of(v))

    def _try(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        victims: Sequence[RunningWorkload],
        only_node: str | None,
    ) -> Placement | None:
        """Release victims and place; leaves the ledger changed only on success."""
        mark = self.ledger.checkpoint()
        self._release(victims)
        placed = self.placer.place(pending, eligible, holder, only_node)
        if placed is None:
            self.ledger.rollback(mark)
        return placed

    # ------------------------------------------------------------- one pod: by node

    def _best_single_node(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        projects: Collection[str],
        qualifies: Qualifies,
    ) -> Found | None:
        pod = pending.pods[0]
        best: tuple[tuple[int, int], str, list[RunningWorkload]] | None = None
        for floor, bound, node in self._walk(pod, eligible, projects):
            if best is not None and floor >= best[0]:
                break  # no node from here on can need fewer victims or evict less
            if best is not None and bound >= best[0]:
                continue
            victims = [
                v for v in self.index.by_node[node] if self.index.available(v) and qualifies(v)
            ]
            k = self._victims_needed(pod, node, victims)
            if k is None:
                continue
            score = (k, sum(v.gpu_milli for v in victims[:k]))
            if best is None or score < best[0]:
                best = (score, node, victims[:k])
        if best is None:
            return None
        placed = self._try(pending, eligible, holder, best[2], best[1])
        return Found(tuple(best[2]), placed) if placed else None

    def _walk(
        self, pod: PodSpec, eligible: frozenset[str] | None, projects: Collection[str]
    ) -> Iterator[tuple[Bound, Bound, str]]:
        """Nodes holding victims of `projects` as (floor, bound, node): `bound` is a lower
        bound on the (victims, milli evicted) the node needs, `floor` one for it and every
        later node. Nodes whose victims could not free enough GPUs are left out.

        Equal scores go to the first node walked: most idle GPUs, then name."""
        holding = self.index.nodes_of(projects)

        def usable(node: str) -> bool:
            room = self.index.room(projects, node) if node in holding else None
            spec = self.ledger.nodes.get(node)
            return (
                room is not None
                and spec is not None
                and not spec.unschedulable
                and (eligible is None or node in eligible)
                and self.ledger.whole_free[node] + room >= pod.gpu.whole
            )

        if pod.gpu.is_fractional or not pod.gpu.whole:
            # Any one victim frees a GPU's worth: the bound is the smallest victim there.
            for narrowest, node in self.index.by_narrowest:
                if usable(node):
                    yield (1, narrowest), (1, narrowest), node
            return
        yield from self._by_idle_gpus(pod.gpu.whole, usable)

    def _by_idle_gpus(
        self, need: int, usable: Callable[[str], bool]
    ) -> Iterator[tuple[Bound, Bound, str]]:
        """Usable nodes, most idle GPUs first: the GPU deficit, so the floor, only grows."""
        smallest = self.index.by_narrowest[0][0] if self.index.by_narrowest else 0
        widest = max(self.index.widest.values(), default=0)
        top = max((n.gpu_count for n in self.ledger.nodes.values()), default=0)
        for idle in range(top, -1, -1):
            deficit = need - idle
            floor = _bound(deficit, widest, smallest)
            for _, node in self.ledger.whole_index.irange((idle, ""), (idle, _TOP)):
                if usable(node):
                    narrow = self.index.narrowest[node]
                    yield floor, _bound(deficit, self.index.widest[node], narrow), node

    def _victims_needed(
        self, pod: PodSpec, node: str, victims: list[RunningWorkload]
    ) -> int | None:
        """How many of `victims` (a prefix) must go for `pod` to fit on `node`, counted
        exactly on GPUs, CPU and memory without touching the ledger; None if all do not do."""
        free = list(self.ledger.gpu_free[node])
        cpu, mem = self.ledger.cpu_free[node], self.ledger.mem_free[node]
        fraction = pod.gpu.milli_on(self.ledger.nodes[node].gpu_memory_mib)
        for k, v in enumerate(victims, start=1):
            for a in v.assignments:
                if a.node != node:
                    continue
                per_gpu = a.gpu_milli if len(a.gpu_indices) == 1 else WHOLE
                for g in a.gpu_indices:
                    free[g] += per_gpu
                cpu, mem = cpu + a.cpu_milli, mem + a.memory_bytes
            if cpu < pod.cpu_milli or mem < pod.memory_bytes:
                continue
            if pod.gpu.is_fractional:
                if any(f >= fraction for f in free):
                    return k
            elif sum(1 for f in free if f == WHOLE) >= pod.gpu.whole:
                return k
        return None

    # ------------------------------------------------------------------------ gangs

    def _greedy_then_prune(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        qualifies: Qualifies,
    ) -> Found | None:
        ordered = [v for v in self.index.ordered if self.index.available(v) and qualifies(v)]
        need = sum(p.gpu.milli_on(0) if not p.gpu.memory_mib else 0 for p in pending.pods)
        idle = sum(
            max(f, 0)
            for n, frees in self.ledger.gpu_free.items()
            if not self.ledger.nodes[n].unschedulable
            for f in frees
        )
        chosen: list[RunningWorkload] | None = None
        freed = 0
        for k, v in enumerate(ordered, start=1):
            freed += v.gpu_milli
            # A real trial only once the GPUs freed could possibly be enough.
            if idle + freed >= need and self._fits_with(pending, eligible, holder, ordered[:k]):
                chosen = ordered[:k]
                break
        if chosen is None:
            return None
        for v in reversed(list(chosen)):  # drop victims that turned out unnecessary
            trial = [c for c in chosen if c is not v]
            if trial and self._fits_with(pending, eligible, holder, trial):
                chosen = trial
        placed = self._try(pending, eligible, holder, chosen, None)
        return Found(tuple(chosen), placed) if placed else None

    def _fits_with(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        victims: Sequence[RunningWorkload],
    ) -> bool:
        mark = self.ledger.checkpoint()
        placed = self._try(pending, eligible, holder, victims, None)
        self.ledger.rollback(mark)
        return placed is not None
