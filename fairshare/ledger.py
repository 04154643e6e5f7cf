"""The ledger: one cycle's working copy of free capacity and per-project allocation.

Owns every mutation a cycle makes while it decides (hold a pod's resources, release an
evicted pod's) and the checkpoint/rollback that what-if placement needs (a gang that does
not fit whole, a reclaim whose victims would not make room). Each change is journaled and
undone exactly, so a rollback restores the indices too. Two sorted indices keep placement
fast on thousands of nodes: nodes by count of idle whole GPUs, and partly shared GPUs by
free milli. It must not choose where things go (placement.py) or who is evicted
(preemption.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sortedcontainers import SortedList

from fairshare.model import ForeignUsage, Node, PodAssignment
from fairshare.quota_tree import QuotaTree
from fairshare.resources import MILLI_PER_GPU

WHOLE = MILLI_PER_GPU


@dataclass(frozen=True)
class Holder:
    """Who holds an assignment, for allocation accounting up the quota tree."""

    project: str
    non_preemptible: bool


class Ledger:
    def __init__(self, nodes: Sequence[Node], tree: QuotaTree) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.gpu_free: dict[str, list[int]] = {n.name: [WHOLE] * n.gpu_count for n in nodes}
        self.cpu_free = {n.name: n.cpu_milli for n in nodes}
        self.mem_free = {n.name: n.memory_bytes for n in nodes}
        self.whole_free = {n.name: n.gpu_count for n in nodes}
        self.whole_index = SortedList()  # (idle whole GPUs, node) of schedulable nodes
        self.shared_index = SortedList()  # (free milli, node, gpu) of partly used GPUs
        self.alloc: dict[str, int] = {}  # projects and departments -> milli held
        self.non_preemptible: dict[str, int] = {}  # the same, non-preemptible only
        self._chain = {p: (p, *tree.ancestors(p)) for p in tree.projects}
        self._journal: list[tuple[object, ...]] = []
        for n in nodes:
            if not n.unschedulable:
                self.whole_index.add((n.gpu_count, n.name))

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self) -> int:
        return len(self._journal)

    def rollback(self, mark: int) -> None:
        while len(self._journal) > mark:
            entry = self._journal.pop()
            match entry:
                case ("gpu", str(node), int(gpu), int(old)):
                    self._set_gpu(node, gpu, old, journal=False)
                case ("cpumem", str(node), int(cpu), int(mem)):
                    self.cpu_free[node] -= cpu
                    self.mem_free[node] -= mem
                case ("alloc", str(project), int(milli), int(non_pre)):
                    self._add_alloc(project, -milli, -non_pre, journal=False)

    # --------------------------------------------------------------------- changes

    def hold(self, a: PodAssignment, holder: Holder | None) -> None:
        """Take what an assignment uses; holder None = a pod of another scheduler."""
        self._take_gpus(a.node, a.gpu_indices, a.gpu_milli, sign=-1)
        self._add_cpu_mem(a.node, -a.cpu_milli, -a.memory_bytes)
        if holder is not None:
            self._add_alloc(
                holder.project, a.gpu_milli, a.gpu_milli if holder.non_preemptible else 0
            )

    def release(self, a: PodAssignment, holder: Holder) -> None:
        self._take_gpus(a.node, a.gpu_indices, a.gpu_milli, sign=+1)
        self._add_cpu_mem(a.node, a.cpu_milli, a.memory_bytes)
        self._add_alloc(holder.project, -a.gpu_milli, -a.gpu_milli if holder.non_preemptible else 0)

    def hold_foreign(self, usage: ForeignUsage) -> None:
        if usage.node not in self.nodes:
            return
        gpus = self.idle_whole_gpus(usage.node)[: usage.gpus]
        self.hold(
            PodAssignment(
                "",
                usage.node,
                tuple(gpus),
                len(gpus) * WHOLE,
                None,
                usage.cpu_milli,
                usage.memory_bytes,
            ),
            None,
        )

    def idle_whole_gpus(self, node: str) -> list[int]:
        return [i for i, free in enumerate(self.gpu_free[node]) if free == WHOLE]

    def allocated(self, name: str) -> int:
        return self.alloc.get(name, 0)

    def chain(self, project: str) -> tuple[str, ...]:
        """The project and its departments, nearest first."""
        return self._chain.get(project, (project,))

    # ------------------------------------------------------------------- internals

    def _take_gpus(self, node: str, gpus: Iterable[int], milli: int, sign: int) -> None:
        indices = tuple(gpus)
        if not indices:
            return
        per_gpu = milli if len(indices) == 1 else WHOLE
        for g in indices:
            if g < len(self.gpu_free[node]):
                self._set_gpu(node, g, self.gpu_free[node][g] + sign * per_gpu)

    def _set_gpu(self, node: str, gpu: int, new: int, *, journal: bool = True) -> None:
        old = self.gpu_free[node][gpu]
        if journal:
            self._journal.append(("gpu", node, gpu, old))
        self.gpu_free[node][gpu] = new
        listed = not self.nodes[node].unschedulable
        if listed and 0 < old < WHOLE:
            self.shared_index.remove((old, node, gpu))
        if listed and 0 < new < WHOLE:
            self.shared_index.add((new, node, gpu))
        delta = (new == WHOLE) - (old == WHOLE)
        if delta:
            count = self.whole_free[node]
            self.whole_free[node] = count + delta
            if listed:
                self.whole_index.remove((count, node))
                self.whole_index.add((count + delta, node))

    def _add_cpu_mem(self, node: str, cpu: int, mem: int) -> None:
        self._journal.append(("cpumem", node, cpu, mem))
        self.cpu_free[node] += cpu
        self.mem_free[node] += mem

    def _add_alloc(self, project: str, milli: int, non_pre: int, *, journal: bool = True) -> None:
        if journal:
            self._journal.append(("alloc", project, milli, non_pre))
        for name in self.chain(project):
            self.alloc[name] = self.alloc.get(name, 0) + milli
            self.non_preemptible[name] = self.non_preemptible.get(name, 0) + non_pre
