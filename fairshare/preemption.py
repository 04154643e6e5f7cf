"""Who is evicted so a pending workload can run: reclaim across projects, preempt inside one.

Owns the victim search (Kueue's GetTargets habit: find targets here, issue nothing) and
the rules that make it safe:
- reclaim: R may take from V only if V is over its fair share and R's excess over its
  fair share after the move is strictly less than V's excess before it. Every reclaim
  then strictly lowers the sorted vector of excesses, so reclaims cannot loop (no
  ping-pong) and they go on until shares are as fair as whole pods allow. Victims come
  from the most-over projects first.
- preempt: a workload may evict strictly lower-priority preemptible work of its own
  project, without growing the project past its fair share by doing so.
Victims: the fewest workloads (a gang is evicted whole) that make the pending one fit,
lowest priority first, then most recently started; younger than `min_runtime_seconds`
never. The search runs on the ledger under checkpoints: on success the ledger keeps the
victims released and the pending workload held; on failure it is rolled back. It must not
emit evictions itself (decide.py does) nor choose the order of pending workloads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fairshare.ledger import Holder, Ledger
from fairshare.model import PodAssignment, RunningWorkload, Workload
from fairshare.ordering import victim_key
from fairshare.placement import Placer

Placement = tuple[PodAssignment, ...]


@dataclass(frozen=True)
class Found:
    victims: tuple[RunningWorkload, ...]
    placement: Placement


def holder_of(r: RunningWorkload) -> Holder:
    return Holder(r.workload.project, not r.workload.is_preemptible)


def _ordered(candidates: Sequence[RunningWorkload]) -> list[RunningWorkload]:
    return sorted(
        candidates,
        key=lambda r: victim_key(r.workload.priority, r.started_at, r.workload.name),
    )


@dataclass
class VictimSearch:
    ledger: Ledger
    placer: Placer

    def find(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        candidates: Sequence[RunningWorkload],
        accept: Callable[[Found], bool],
    ) -> Found | None:
        """The fewest victims among `candidates` that let `pending` fit and pass `accept`."""
        if not candidates:
            return None
        mark = self.ledger.checkpoint()
        ordered = _ordered(candidates)
        if len(pending.pods) == 1:
            found = self._best_single_node(pending, eligible, holder, ordered)
        else:
            found = self._greedy_then_prune(pending, eligible, holder, ordered)
        if found is not None and not accept(found):
            self.ledger.rollback(mark)  # the caller's rule (budget, share) said no
            return None
        return found

    def _release(self, victims: Sequence[RunningWorkload]) -> None:
        for v in victims:
            for a in v.assignments:
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

    def _best_single_node(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ordered: list[RunningWorkload],
    ) -> Found | None:
        by_node: dict[str, list[RunningWorkload]] = {}
        for r in ordered:
            for node in sorted({a.node for a in r.assignments}):
                by_node.setdefault(node, []).append(r)
        best: tuple[tuple[int, int, str], list[RunningWorkload]] | None = None
        for node in sorted(by_node):
            if eligible is not None and node not in eligible:
                continue
            victims = self._prefix_that_fits(pending, eligible, holder, by_node[node], node)
            if victims is None:
                continue
            score = (len(victims), sum(v.gpu_milli for v in victims), node)
            if best is None or score < best[0]:
                best = (score, victims)
        if best is None:
            return None
        placed = self._try(pending, eligible, holder, best[1], best[0][2])
        return Found(tuple(best[1]), placed) if placed else None

    def _prefix_that_fits(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        on_node: list[RunningWorkload],
        node: str,
    ) -> list[RunningWorkload] | None:
        for k in range(1, len(on_node) + 1):
            mark = self.ledger.checkpoint()
            placed = self._try(pending, eligible, holder, on_node[:k], node)
            self.ledger.rollback(mark)
            if placed is not None:
                return on_node[:k]
        return None

    def _greedy_then_prune(
        self,
        pending: Workload,
        eligible: frozenset[str] | None,
        holder: Holder,
        ordered: list[RunningWorkload],
    ) -> Found | None:
        chosen: list[RunningWorkload] | None = None
        for k in range(1, len(ordered) + 1):
            if self._fits_with(pending, eligible, holder, ordered[:k]):
                chosen = ordered[:k]
                break
        if chosen is None:
            return None
        # Drop victims that turned out unnecessary, latest-chosen first.
        for v in reversed(list(chosen)):
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
