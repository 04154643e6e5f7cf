"""Who is evicted so a pending workload can run: the victim search for reclaim and preempt.

Owns the choice of victims (Kueue's GetTargets habit: find targets here, issue nothing).
Among the legal sets of victims that make the pending workload fit, across all nodes, it
picks by DESIGN §1.2's order of preference: the lowest highest-victim priority (never a
higher-priority victim where lower-priority ones suffice), then the fewest pods, then the
fewest GPUs, then the most recently started. A gang victim goes whole and counts all its
pods. decide.py says who may be a victim (its reclaim, preempt and move rules) and whether
a found move is acceptable; this module finds the move.

How it stays exact and fast: priorities are tried lowest first, and the first threshold
with any feasible set wins. For a one-pod workload the victims must all free room on the
node it lands on, so each node is solved on its own, exactly (every subset of its
candidates, smallest first, counted arithmetically without touching the ledger), and nodes
are walked in the order of a cheap lower bound on what they need, stopping as soon as no
remaining node can beat the best. A node whose own bound on the whole score (the pods, the
GPU milli it lacks, its most recent victim) cannot beat the best is skipped unscored:
visiting it could not change the result. A node with more than `exact_limit` candidates, and a
gang (whose pods may land anywhere), get a bounded search: the exact search over the
`exact_limit` first candidates in victim order, and a greedy-then-prune pass over all of
them; the better of the two wins (tests compare it with the exact search). One real
placement under a ledger checkpoint confirms the result; on success the ledger keeps the
victims released and the pending workload held, on failure it is rolled back. It must not
emit evictions (decide.py does) nor choose the order of pending workloads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

from fairshare.ledger import WHOLE, Holder, Ledger
from fairshare.model import PodAssignment, PodSpec, RunningWorkload, Workload
from fairshare.placement import Placer
from fairshare.victims import VictimIndex

Placement = tuple[PodAssignment, ...]
_TOP = "\U0010ffff"  # sorts after every node name
EXACT_LIMIT = 10  # candidates per node (or per gang) searched exhaustively
EXACT_NODES = 64  # up to this many nodes, every node that could tie is searched


@dataclass(frozen=True)
class Found:
    victims: tuple[RunningWorkload, ...]
    placement: Placement


def holder_of(r: RunningWorkload) -> Holder:
    return Holder(r.workload.project, not r.workload.is_preemptible)


Score = tuple[int, int, tuple[tuple[int, str], ...]]  # pods, GPU milli, recency


def score(victims: Sequence[RunningWorkload]) -> Score:
    """Smaller is preferred: fewest pods, then fewest GPUs, then most recently started."""
    recency = tuple(sorted((-v.started_at, v.workload.name) for v in victims))
    return (sum(len(v.assignments) for v in victims), sum(v.gpu_milli for v in victims), recency)


def _milli_on(v: RunningWorkload, node: str, gpu: int) -> int:
    """What `v` holds on one GPU of a node."""
    return sum(
        a.gpu_milli if len(a.gpu_indices) == 1 else WHOLE
        for a in v.assignments
        if a.node == node and gpu in a.gpu_indices
    )


Bound = tuple[int, int]  # (pods, GPU milli evicted), compared as a lower bound


def _bound(deficit: int, widest: int, narrowest: int) -> Bound:
    """Fewest victims and least milli that can cover a GPU deficit on a node."""
    if deficit <= 0:  # only CPU or memory is short: one victim might do
        return (1, narrowest)
    if widest <= 0:
        return (1 << 30, 0)  # victims there hold no GPUs: never enough
    # A GPU shared by fractions is freed by evicting less than a GPU's worth, so the
    # milli bound is only the smallest victim there.
    return (-(-deficit // widest), narrowest)


@dataclass(frozen=True)
class Ask:
    """What the caller allows: victims of `projects`, below `below_priority` if set, at
    most `max_milli` GPUs evicted in all (None: no cap), and only sets `legal` accepts.
    `admits`, if set, is a test every victim of a set `legal` accepts passes: sets with a
    victim it refuses are not even tried (only for speed; it must not refuse more)."""

    projects: Collection[str]
    below_priority: int | None = None
    max_milli: int | None = None
    legal: Callable[[Sequence[RunningWorkload]], bool] | None = None
    admits: Callable[[RunningWorkload], bool] | None = None

    def admitted(self, victims: Sequence[RunningWorkload]) -> list[RunningWorkload]:
        """The victims that may be part of an allowed set, in their order."""
        if self.admits is None:
            return list(victims)
        return [v for v in victims if self.admits(v)]

    def allows(self, victims: Sequence[RunningWorkload]) -> bool:
        if self.max_milli is not None and sum(v.gpu_milli for v in victims) > self.max_milli:
            return False
        return self.legal is None or self.legal(victims)

    def qualifies(self, r: RunningWorkload) -> bool:
        return r.workload.project in self.projects and (
            self.below_priority is None or r.workload.priority < self.below_priority
        )


@dataclass
class VictimSearch:
    ledger: Ledger
    placer: Placer
    index: VictimIndex = field(default_factory=lambda: VictimIndex([]))
    exact_limit: int = EXACT_LIMIT

    def find(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ask: Ask,
        accept: Callable[[Found], bool],
    ) -> Found | None:
        """The preferred legal victims that let `pending` fit and that `accept` allows."""
        mark = self.ledger.checkpoint()
        found = None
        for ceiling in self._priorities(ask):
            found = self._at(pending, eligible, holder, ask, ceiling)
            if found is not None:
                break
        if found is not None and not accept(found):
            self.ledger.rollback(mark)  # the caller's rule (budget, fairness) said no
            return None
        if found is not None:
            self.index.take(found.victims)
        return found

    def _priorities(self, ask: Ask) -> list[int]:
        levels = set().union(*(self.index.priorities.get(p, set()) for p in ask.projects))
        if ask.below_priority is not None:
            levels = {x for x in levels if x < ask.below_priority}
        return sorted(levels)

    def _at(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ask: Ask,
        ceiling: int,
    ) -> Found | None:
        gone, projects, below = self.index.gone, ask.projects, ask.below_priority

        def ok(r: RunningWorkload) -> bool:  # index.available and ask.qualifies, inlined
            w = r.workload
            return (
                w.name not in gone
                and w.project in projects
                and (below is None or w.priority < below)
                and w.priority <= ceiling
            )

        if len(pending.pods) == 1:
            return self._single(pending, eligible, holder, ask, ok)
        return self._gang(pending, eligible, holder, ask, ok)

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

    def _single(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ask: Ask,
        ok: Callable[[RunningWorkload], bool],
    ) -> Found | None:
        pod = pending.pods[0]
        # On a large cluster, nodes that can only tie on pods and GPUs are not visited for
        # recency; the one-victim case is then refined exactly by `_most_recent_lone`.
        exact = len(self.ledger.nodes) <= EXACT_NODES
        best: tuple[Score, str, list[RunningWorkload]] | None = None
        for floor, bound, node in self._walk(pod, eligible, ask.projects):
            if best is not None and (floor > best[0][:2] or (not exact and floor >= best[0][:2])):
                break  # no node from here on can need fewer pods or evict less
            if best is not None and self._cannot_beat(pod, node, bound, ok, best[0]):
                continue  # visiting it would not change `best`
            victims = [v for v in self.index.by_node[node] if ok(v)]
            chosen = self.best_on_node(pod, node, victims, ask)
            if chosen is not None and (best is None or score(chosen) < best[0]):
                best = (score(chosen), node, chosen)
        if best is None:
            return None
        if not exact and best[0][0] == 1:
            best = self._most_recent_lone(pod, eligible, ask, ok, best)
        placed = self._try(pending, eligible, holder, best[2], best[1])
        return Found(tuple(best[2]), placed) if placed else None

    def _cannot_beat(
        self,
        pod: PodSpec,
        node: str,
        bound: Bound,
        ok: Callable[[RunningWorkload], bool],
        best: Score,
    ) -> bool:
        """Can no set of victims on `node` score below `best`? A lower bound on each part
        of the score: the pods and milli the node needs (freeing a GPU takes what it lacks
        of a whole one), and the most recent victim there, which any set's recency starts
        at or after."""
        needs = self._needs_more(pod, node, bound)
        if needs != best[:2]:
            return needs > best[:2]
        recency = ((-v.started_at, v.workload.name) for v in self.index.by_node[node] if ok(v))
        first = min(recency, default=None)
        return first is None or (first,) >= best[2]

    def _needs_more(self, pod: PodSpec, node: str, bound: Bound) -> Bound:
        """`bound` tightened: freeing a GPU takes evicting what it lacks of a whole one."""
        deficit = pod.gpu.whole - self.ledger.whole_free[node]
        if pod.gpu.is_fractional or deficit <= 0:
            return bound
        lacking = sorted(WHOLE - f for f in self.ledger.gpu_free[node] if f != WHOLE)
        return bound[0], max(bound[1], sum(lacking[:deficit]))

    def _most_recent_lone(
        self,
        pod: PodSpec,
        eligible: frozenset[str] | None,
        ask: Ask,
        ok: Callable[[RunningWorkload], bool],
        best: tuple[Score, str, list[RunningWorkload]],
    ) -> tuple[Score, str, list[RunningWorkload]]:
        """Among one-pod victims of the best one's size, the most recently started that
        alone makes room (victims of a size are indexed most recent first)."""
        for v in self.index.of_size(best[0][1], ask.projects):
            if v is best[2][0]:
                break
            node = v.assignments[0].node
            spec = self.ledger.nodes.get(node)
            if (
                ok(v)
                and spec is not None
                and not spec.unschedulable
                and (eligible is None or node in eligible)
                and self._fits_after(pod, node, [v])
                and ask.allows([v])
            ):
                return score([v]), node, [v]
        return best

    def _walk(
        self, pod: PodSpec, eligible: frozenset[str] | None, projects: Collection[str]
    ) -> Iterator[tuple[Bound, Bound, str]]:
        """Nodes holding victims of `projects` as (floor, bound, node): `bound` is a lower
        bound on the (pods, milli evicted) the node needs, `floor` one for it and every
        later node. Nodes whose victims could not free enough GPUs are left out."""

        def usable(node: str) -> bool:
            spec = self.ledger.nodes.get(node)
            if spec is None or spec.unschedulable:
                return False
            if eligible is not None and node not in eligible:
                return False
            room = self.index.room(projects, node)
            return room is not None and self.ledger.whole_free[node] + room >= pod.gpu.whole

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

    def best_on_node(
        self, pod: PodSpec, node: str, victims: list[RunningWorkload], ask: Ask
    ) -> list[RunningWorkload] | None:
        """The preferred subset of `victims` that lets `pod` fit on `node`, or None."""
        if not victims or not self._fits_after(pod, node, victims):
            return None  # evicting more only frees more: if all do not do, none do
        cap = ask.max_milli
        within = [v for v in victims if cap is None or v.gpu_milli <= cap]
        by_gpu = self._by_freed_gpus(pod, node, within, ask)
        if by_gpu is not None:
            return by_gpu
        head = within[: self.exact_limit]
        best = self._exact_on_node(pod, node, ask.admitted(head), ask)
        if len(within) > len(head):
            greedy = self._greedy_on_node(pod, node, within, ask)
            if greedy is not None and (best is None or score(greedy) < score(best)):
                best = greedy
        return best

    def _by_freed_gpus(
        self, pod: PodSpec, node: str, victims: list[RunningWorkload], ask: Ask
    ) -> list[RunningWorkload] | None:
        """The preferred set among those that free just the GPUs the pod needs: for whole
        GPUs, every holder of some `deficit` GPUs; for a fraction, some holders of one GPU.
        Any set that makes room contains one of these, so when one of them also leaves
        enough CPU and memory it is the optimum; None sends the caller to the subset
        search (CPU or memory is what is short)."""
        free = self.ledger.gpu_free[node]
        holders: dict[int, list[RunningWorkload]] = {}
        held: dict[int, int] = {}
        for v in victims:
            for a in v.assignments:
                if a.node == node:
                    per_gpu = a.gpu_milli if len(a.gpu_indices) == 1 else WHOLE
                    for g in a.gpu_indices:
                        holders.setdefault(g, []).append(v)
                        held[g] = held.get(g, 0) + per_gpu
        options: list[list[RunningWorkload]] = []
        if pod.gpu.is_fractional:
            need = pod.gpu.milli_on(self.ledger.nodes[node].gpu_memory_mib)
            for g, hs in holders.items():
                for k in range(1, len(hs) + 1):  # more holders of the GPU: only worse
                    fits = [
                        list(sub)
                        for sub in combinations(hs, k)
                        if free[g] + sum(_milli_on(v, node, g) for v in sub) >= need
                    ]
                    if fits:
                        options.extend(fits)
                        break
        else:
            deficit = pod.gpu.whole - sum(1 for f in free if f == WHOLE)
            freeable = [g for g in holders if free[g] + held[g] == WHOLE]
            if deficit <= 0 or len(freeable) < deficit or comb(len(freeable), deficit) > 256:
                return None
            seen: set[frozenset[int]] = set()
            for chosen in combinations(freeable, deficit):
                union = {id(v): v for g in chosen for v in holders[g]}
                if (ids := frozenset(union)) not in seen:
                    seen.add(ids)
                    options.append(list(union.values()))
        return self._first_that_fits(pod, node, options, ask)

    def _first_that_fits(
        self, pod: PodSpec, node: str, options: list[list[RunningWorkload]], ask: Ask
    ) -> list[RunningWorkload] | None:
        """The preferred option that really fits (CPU and memory too) and is allowed."""
        for option in sorted(options, key=score):
            if len(ask.admitted(option)) < len(option):
                continue  # a victim no allowed set holds
            if self._fits_after(pod, node, option) and ask.allows(option):
                return option
        return None

    def _exact_on_node(
        self, pod: PodSpec, node: str, victims: list[RunningWorkload], ask: Ask
    ) -> list[RunningWorkload] | None:
        best: list[RunningWorkload] | None = None
        top: Score | None = None
        size = {id(v): (len(v.assignments), v.gpu_milli) for v in victims}
        for k in range(1, len(victims) + 1):
            if top is not None and k > top[0]:
                break  # every set of k victims has at least k pods
            for subset in combinations(victims, k):
                if top is not None:  # cheap test on pods and GPUs before the full score
                    pods = sum(size[id(v)][0] for v in subset)
                    milli = sum(size[id(v)][1] for v in subset)
                    if (pods, milli) > top[:2]:
                        continue
                chosen = list(subset)
                if (
                    (top is None or score(chosen) < top)
                    and self._fits_after(pod, node, chosen)
                    and ask.allows(chosen)
                ):
                    best, top = chosen, score(chosen)
        return best

    def _greedy_on_node(
        self, pod: PodSpec, node: str, victims: list[RunningWorkload], ask: Ask
    ) -> list[RunningWorkload] | None:
        chosen: list[RunningWorkload] = []
        for v in victims:
            chosen.append(v)
            if self._fits_after(pod, node, chosen):
                break
        else:
            return None
        for v in reversed(list(chosen)):  # drop victims that turned out unnecessary
            trial = [c for c in chosen if c is not v]
            if trial and self._fits_after(pod, node, trial):
                chosen = trial
        return chosen if ask.allows(chosen) else None

    def _fits_after(self, pod: PodSpec, node: str, victims: Sequence[RunningWorkload]) -> bool:
        """Would `pod` fit on `node` once `victims` are gone? Counted on GPUs, CPU and
        memory without touching the ledger."""
        free = list(self.ledger.gpu_free[node])
        cpu, mem = self.ledger.cpu_free[node], self.ledger.mem_free[node]
        for v in victims:
            for a in v.assignments:
                if a.node != node:
                    continue
                per_gpu = a.gpu_milli if len(a.gpu_indices) == 1 else WHOLE
                for g in a.gpu_indices:
                    free[g] += per_gpu
                cpu, mem = cpu + a.cpu_milli, mem + a.memory_bytes
        if cpu < pod.cpu_milli or mem < pod.memory_bytes:
            return False
        if pod.gpu.is_fractional:
            fraction = pod.gpu.milli_on(self.ledger.nodes[node].gpu_memory_mib)
            return any(f >= fraction for f in free)
        return sum(1 for f in free if f == WHOLE) >= pod.gpu.whole

    # ------------------------------------------------------------------------ gangs

    def _gang(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ask: Ask,
        ok: Callable[[RunningWorkload], bool],
    ) -> Found | None:
        ordered = [v for v in self.index.ordered if ok(v)]
        if ask.max_milli is not None:
            ordered = [v for v in ordered if v.gpu_milli <= ask.max_milli]
        head = ask.admitted(ordered[: self.exact_limit])
        best = self._exact_gang(pending, eligible, holder, head, ask)
        if len(ordered) > self.exact_limit:
            greedy = self._greedy_gang(pending, eligible, holder, ordered, ask)
            if greedy is not None and (best is None or score(greedy) < score(best)):
                best = greedy
        if best is None:
            return None
        placed = self._try(pending, eligible, holder, best, None)
        return Found(tuple(best), placed) if placed else None

    def _idle(self) -> int:
        return sum(
            max(f, 0)
            for n, frees in self.ledger.gpu_free.items()
            if not self.ledger.nodes[n].unschedulable
            for f in frees
        )

    def _exact_gang(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        victims: list[RunningWorkload],
        ask: Ask,
    ) -> list[RunningWorkload] | None:
        need = sum(p.gpu.whole * WHOLE + p.gpu.fraction_milli for p in pending.pods)
        idle = self._idle()
        best: list[RunningWorkload] | None = None
        for k in range(1, len(victims) + 1):
            if best is not None and k > score(best)[0]:
                break
            for subset in combinations(victims, k):
                chosen = list(subset)
                if idle + sum(v.gpu_milli for v in chosen) < need or not ask.allows(chosen):
                    continue
                if (best is None or score(chosen) < score(best)) and self._fits_with(
                    pending, eligible, holder, chosen
                ):
                    best = chosen
        return best

    def _greedy_gang(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ordered: list[RunningWorkload],
        ask: Ask,
    ) -> list[RunningWorkload] | None:
        need = sum(p.gpu.whole * WHOLE + p.gpu.fraction_milli for p in pending.pods)
        idle = self._idle()
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
        return chosen if ask.allows(chosen) else None

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
