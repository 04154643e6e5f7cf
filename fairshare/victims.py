"""The victim index: this cycle's evictable workloads, arranged for a fast victim search.

Owns who could be evicted this cycle (preemptible, not terminating, old enough: decide.py
chooses them) and how they are found again quickly: in victim order (lowest priority
first, then most recently started), per node (a victim taken leaves its nodes' lists, so a
search counts the room on a node from the few projects still there), and one-pod victims
by size and project, most recent first. It must not decide who may take from whom, nor
touch the ledger.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from heapq import merge

from fairshare.model import RunningWorkload
from fairshare.ordering import victim_key


def _recency(r: RunningWorkload) -> tuple[int, str]:
    return (-r.started_at, r.workload.name)


def _gpus_on(r: RunningWorkload, node: str) -> int:
    return sum(len(a.gpu_indices) for a in r.assignments if a.node == node)


@dataclass
class VictimIndex:
    ordered: list[RunningWorkload]
    by_node: dict[str, list[RunningWorkload]] = field(default_factory=dict)  # not yet taken
    widest: dict[str, int] = field(default_factory=dict)  # most GPUs one victim holds there
    narrowest: dict[str, int] = field(default_factory=dict)  # fewest milli one victim holds
    by_narrowest: list[tuple[int, str]] = field(default_factory=list)  # a static walk order
    live: dict[str, int] = field(default_factory=dict)  # project -> victims not yet taken
    priorities: dict[str, set[int]] = field(default_factory=dict)  # project -> victims' priorities
    gone: set[str] = field(default_factory=set)
    # node -> project -> (victims not yet taken there, GPUs they hold there)
    on_node: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # one-pod victims not yet taken, by GPU milli and project, most recently started first
    # (then by name), keyed by workload name so a take removes one at once
    lone: dict[int, dict[str, dict[str, RunningWorkload]]] = field(default_factory=dict)

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
                count, total = index.on_node.setdefault(node, {}).get(project, (0, 0))
                index.on_node[node][project] = (count + 1, total + gpus)
                index.widest[node] = max(index.widest.get(node, 0), gpus)
                index.narrowest[node] = min(index.narrowest.get(node, r.gpu_milli), r.gpu_milli)
        index.by_narrowest = sorted((m, n) for n, m in index.narrowest.items())
        for r in sorted(ordered, key=_recency):
            if len(r.assignments) == 1:
                of_size = index.lone.setdefault(r.gpu_milli, {})
                of_size.setdefault(r.workload.project, {})[r.workload.name] = r
        return index

    def of_size(self, milli: int, projects: Collection[str]) -> Iterator[RunningWorkload]:
        """Available one-pod victims of `projects` holding `milli`, most recent first."""
        of_size = self.lone.get(milli, {})
        lists = [of_size[p].values() for p in sorted(projects) if p in of_size]
        return merge(*lists, key=_recency)

    def available(self, r: RunningWorkload) -> bool:
        return r.workload.name not in self.gone

    def take(self, victims: Sequence[RunningWorkload]) -> None:
        """Mark victims evicted: later searches of this cycle no longer see them."""
        for v in victims:
            project = v.workload.project
            self.gone.add(v.workload.name)
            self.lone.get(v.gpu_milli, {}).get(project, {}).pop(v.workload.name, None)
            self.live[project] -= 1
            for node in {a.node for a in v.assignments}:
                self.by_node[node] = [x for x in self.by_node[node] if x is not v]
                count, total = self.on_node[node][project]
                if count == 1:
                    del self.on_node[node][project]
                else:
                    self.on_node[node][project] = (count - 1, total - _gpus_on(v, node))

    def room(self, projects: Collection[str], node: str) -> int | None:
        """GPUs the available victims of `projects` hold on `node`; None if none is there."""
        total, found = 0, False
        for p, (_, gpus) in self.on_node.get(node, {}).items():  # few projects per node
            if p in projects:
                total, found = total + gpus, True
        return total if found else None
