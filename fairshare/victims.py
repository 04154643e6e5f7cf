"""The victim index: this cycle's evictable workloads, arranged for a fast victim search.

Owns who could be evicted this cycle (preemptible, not terminating, old enough: decide.py
chooses them) and how they are found again quickly: in victim order (lowest priority
first, then most recently started), per node, and per project and node with the GPUs they
hold there, so a search visits only nodes holding victims of the projects it may take
from. It must not decide who may take from whom, nor touch the ledger.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from fairshare.model import RunningWorkload
from fairshare.ordering import victim_key


def _gpus_on(r: RunningWorkload, node: str) -> int:
    return sum(len(a.gpu_indices) for a in r.assignments if a.node == node)


@dataclass
class VictimIndex:
    ordered: list[RunningWorkload]
    by_node: dict[str, list[RunningWorkload]] = field(default_factory=dict)
    widest: dict[str, int] = field(default_factory=dict)  # most GPUs one victim holds there
    narrowest: dict[str, int] = field(default_factory=dict)  # fewest milli one victim holds
    by_narrowest: list[tuple[int, str]] = field(default_factory=list)  # a static walk order
    live: dict[str, int] = field(default_factory=dict)  # project -> victims not yet taken
    priorities: dict[str, set[int]] = field(default_factory=dict)  # project -> victims' priorities
    # project -> node -> (victims not yet taken there, GPUs they hold there)
    held: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    # one-pod victims by GPU milli, most recently started first (then by name)
    lone: dict[int, list[RunningWorkload]] = field(default_factory=dict)

    @staticmethod
    def build(pool: Sequence[RunningWorkload]) -> VictimIndex:
        ordered = sorted(
            pool, key=lambda r: victim_key(r.workload.priority, r.started_at, r.workload.name)
        )
        index = VictimIndex(ordered)
        for r in ordered:
            project = r.workload.project
            index.live[project] = index.live.get(project, 0) + 1
            index.priorities.setdefault(project, set()).add(r.workload.priority)
            for node in sorted({a.node for a in r.assignments}):
                gpus = _gpus_on(r, node)
                index.by_node.setdefault(node, []).append(r)
                index.widest[node] = max(index.widest.get(node, 0), gpus)
                index.narrowest[node] = min(index.narrowest.get(node, r.gpu_milli), r.gpu_milli)
                count, total = index.held.setdefault(project, {}).get(node, (0, 0))
                index.held[project][node] = (count + 1, total + gpus)
        index.by_narrowest = sorted((m, n) for n, m in index.narrowest.items())
        for r in sorted(ordered, key=lambda r: (-r.started_at, r.workload.name)):
            if len(r.assignments) == 1:
                index.lone.setdefault(r.gpu_milli, []).append(r)
        return index

    def of_size(self, milli: int) -> list[RunningWorkload]:
        return self.lone.get(milli, [])

    def available(self, r: RunningWorkload) -> bool:
        return r.workload.name not in self.gone

    def take(self, victims: Sequence[RunningWorkload]) -> None:
        """Mark victims evicted: later searches of this cycle no longer see them."""
        for v in victims:
            project = v.workload.project
            self.gone.add(v.workload.name)
            self.live[project] -= 1
            for node in {a.node for a in v.assignments}:
                count, total = self.held[project][node]
                if count == 1:
                    del self.held[project][node]
                else:
                    self.held[project][node] = (count - 1, total - _gpus_on(v, node))

    def nodes_of(self, projects: Collection[str]) -> set[str]:
        """Nodes where available victims of `projects` run."""
        return set().union(*(self.held.get(p, {}).keys() for p in projects))

    def room(self, projects: Collection[str], node: str) -> int | None:
        """GPUs the available victims of `projects` hold on `node`; None if none is there."""
        total, found = 0, False
        for p in projects:
            entry = self.held.get(p, {}).get(node)
            if entry is not None:
                total, found = total + entry[1], True
        return total if found else None
