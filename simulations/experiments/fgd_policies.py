"""The FGD paper's baseline placement policies, re-expressed from the authors' score plugins.

Owns `random`, `dotprod`, `clustering`, `packing`, `bestfit` and `fgd` as the paper's
simulator runs them (its score plugins and GPU-selection rules, with the settings of its
run scripts): every node that passes the filter (free CPU and memory, the GPU model, enough
GPUs with room) gets an integer score 0..100 and the highest wins, a tie going to the
smallest node name (the authors patched kube-scheduler's selectHost so, for
reproducibility; `random` alone draws among all feasible nodes); the GPUs are chosen by the
policy's rule (`random`: any GPU with room; `fgd`: the GPU whose use fragments least; the
others: the tightest shared GPU that fits; whole GPUs: the first idle ones). Each node's
score is kept per request shape and redone only when that node changed, so an arrival
costs the changed nodes, not the cluster. It must not
measure (fgd_model.py) nor replay (fgd_replay.py); the live scheduler's placement is
`fairshare.placement`, reached through fgd_replay's `quotient` policy.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simulations.experiments.fgd_model import (
    FragMeter,
    NodeState,
    Shape,
    accessible,
    gpus_fitting,
)
from simulations.experiments.openb import MILLI

MAX_SPEC_CPU = 128_000  # the authors' normalising constants (one 128-core, 8-GPU node)
MAX_SPEC_GPU = 8_000
MAX_SCORE = 100

Choice = tuple[int, tuple[int, ...]]  # node index, GPU indices


@dataclass(frozen=True)
class Request:
    shape: Shape
    memory_mib: int


def fits(n: NodeState, r: Request) -> bool:
    s = r.shape
    if n.cpu_free < s.cpu_milli or n.mem_free < r.memory_mib:
        return False
    if s.gpus == 0:
        return True
    return accessible(n.model, s.spec) and gpus_fitting(n.gpu_free, s.gpu_milli) >= s.gpus


def idle_gpus(n: NodeState, count: int) -> tuple[int, ...]:
    return tuple(i for i, f in enumerate(n.gpu_free) if f == MILLI)[:count]


def tightest_gpu(n: NodeState, milli: int) -> tuple[int, ...]:
    best = -1
    for i, f in enumerate(n.gpu_free):
        if f >= milli and (best < 0 or f < n.gpu_free[best]):
            best = i
    return (best,)


def default_gpus(n: NodeState, s: Shape) -> tuple[int, ...]:
    if s.gpus == 0:
        return ()
    if s.gpu_milli < MILLI:
        return tightest_gpu(n, s.gpu_milli)
    return idle_gpus(n, s.gpus)


Scored = tuple[int, tuple[int, ...]] | None  # (score, GPUs), None = does not fit


class _Board:
    """Every node's score for one request, kept current by re-scoring changed nodes only."""

    def __init__(self, size: int) -> None:
        self.seen = 0  # position in the policy's change log
        self.results: list[Scored] = [None] * size
        self.buckets: dict[int, set[int]] = {}

    def put(self, i: int, found: Scored) -> None:
        old = self.results[i]
        if old is not None:
            bucket = self.buckets[old[0]]
            bucket.discard(i)
            if not bucket:
                del self.buckets[old[0]]
        self.results[i] = found
        if found is not None:
            self.buckets.setdefault(found[0], set()).add(i)


class Policy:
    """Score every feasible node, take the best (ties: smallest name); subclasses give `score`."""

    name = ""

    def __init__(self, nodes: Sequence[NodeState], rng: random.Random, meter: FragMeter) -> None:
        self.nodes = nodes
        self.rng = rng
        self.meter = meter
        self._boards: dict[tuple[object, ...], _Board] = {}
        self._changes: list[int] = []  # node indices, in the order they changed

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        raise NotImplementedError

    def placed(self, index: int, r: Request) -> None:
        """Told after the replay applied a choice to node `index`."""
        self._changes.append(index)

    def _board(self, r: Request) -> _Board:
        s = r.shape
        key = (s.cpu_milli, s.gpu_milli, s.gpus, s.spec, r.memory_mib)
        board = self._boards.get(key)
        if board is None:
            board = self._boards[key] = _Board(len(self.nodes))
            stale: Iterable[int] = range(len(self.nodes))
        else:
            stale = sorted(set(self._changes[board.seen :]))
        for i in stale:
            n = self.nodes[i]
            board.put(i, self.score(n, r) if fits(n, r) else None)
        board.seen = len(self._changes)
        return board

    def _pick(self, members: set[int]) -> int:
        return min(members)  # nodes are in name order: the smallest name wins a tie

    def _draw(self, members: set[int]) -> int:
        return sorted(members)[self.rng.randrange(len(members))]

    def choose(self, r: Request) -> Choice | None:
        board = self._board(r)
        if not board.buckets:
            return None
        i = self._pick(board.buckets[max(board.buckets)])
        found = board.results[i]
        assert found is not None
        return i, found[1]


class RandomPolicy(Policy):
    name = "random"

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        return 0, ()

    def choose(self, r: Request) -> Choice | None:
        board = self._board(r)
        if not board.buckets:
            return None
        i = self._draw(board.buckets[0])
        n, s = self.nodes[i], r.shape
        if s.gpus == 0:
            return i, ()
        if s.gpu_milli < MILLI:
            room = [g for g, f in enumerate(n.gpu_free) if f >= s.gpu_milli]
            return i, (room[self.rng.randrange(len(room))],)
        return i, idle_gpus(n, s.gpus)


class DotProdPolicy(Policy):
    """Tetris's dot product of free and asked (CPU, GPU), normalised by the largest node."""

    name = "dotprod"

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        s = r.shape
        dot = (n.cpu_free / MAX_SPEC_CPU) * (s.cpu_milli / MAX_SPEC_CPU) + (
            n.idle_milli() / MAX_SPEC_GPU
        ) * (s.gpus * s.gpu_milli / MAX_SPEC_GPU)
        return int(MAX_SCORE * (1 - dot / 2)), default_gpus(n, s)


def affinity(s: Shape) -> str:
    if s.gpus == 0:
        return ""
    return "share" if s.gpu_milli < MILLI else f"{s.gpus}-gpu"


class ClusteringPolicy(Policy):
    """Pods of one GPU shape together: same-shape-only nodes first, then mixed, idle, others."""

    name = "clustering"

    def __init__(self, nodes: Sequence[NodeState], rng: random.Random, meter: FragMeter) -> None:
        super().__init__(nodes, rng, meter)
        self.tags: list[Counter[str]] = [Counter() for _ in nodes]
        self._by_name = {n.name: i for i, n in enumerate(nodes)}

    def placed(self, index: int, r: Request) -> None:
        tag = affinity(r.shape)
        if tag:
            self.tags[index][tag] += 1
        super().placed(index, r)

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        tag = affinity(r.shape)
        if not tag:
            return 0, ()
        tags = self.tags[self._by_name[n.name]]
        used = MAX_SCORE // 4 * (MAX_SPEC_GPU - n.idle_milli()) // MAX_SPEC_GPU
        band = (3 if len(tags) == 1 else 2) if tags[tag] > 0 else (0 if tags else 1)
        return used + band * MAX_SCORE // 4, default_gpus(n, r.shape)


class PackingPolicy(Policy):
    """Shared GPUs first, then idle GPUs on used nodes, then idle nodes (fewest GPUs first)."""

    name = "packing"

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        s = r.shape
        gpus = default_gpus(n, s)
        if s.gpus == 0:
            return 0, gpus
        idle = sum(1 for f in n.gpu_free if f == MILLI)
        if idle == n.gpus:
            return max(MAX_SCORE // 3 - idle, idle), gpus
        use = [i for i in sorted(range(n.gpus), key=lambda i: n.gpu_free[i])
               if n.gpu_free[i] >= s.gpu_milli][: s.gpus]
        fresh = sum(1 for i in use if n.gpu_free[i] == MILLI)
        if fresh:
            return max(MAX_SCORE // 2 - fresh, MAX_SCORE // 3), gpus
        ratio = sum(n.gpu_free[i] * 100 // MILLI for i in use)
        return max(MAX_SCORE - ratio // 10, MAX_SCORE // 2), gpus


class BestFitPolicy(Policy):
    """Least free (CPU, GPU) left after placing, normalised over the feasible nodes."""

    name = "bestfit"

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        s = r.shape
        left = (n.cpu_free - s.cpu_milli) / MAX_SPEC_CPU * 0.5 + (
            n.idle_milli() - s.gpus * s.gpu_milli
        ) / MAX_SPEC_GPU * 0.5
        return int((1.0 - left) * MAX_SCORE), default_gpus(n, s)

    # The authors normalise scores to 0..100 over the feasible nodes, (s - low) * 100 // span:
    # only the highest raw score maps to 100, so the winner (and its ties) is unchanged.


def _sigmoid_score(before: float, after: float) -> int:
    return int(MAX_SCORE / (1.0 + math.exp(-(before - after) / 1000)))


class FGDPolicy(Policy):
    """Fragmentation gradient descent: the placement that grows the node's fragment least."""

    name = "fgd"

    def score(self, n: NodeState, r: Request) -> tuple[int, tuple[int, ...]]:
        s = r.shape
        before = self.meter.node(n.gpu_free, n.cpu_free, n.model)
        cpu_after = n.cpu_free - s.cpu_milli
        if s.gpus == 1 and s.gpu_milli < MILLI:
            best: tuple[int, tuple[int, ...]] | None = None
            after_free = list(n.gpu_free)
            for g, f in enumerate(n.gpu_free):
                if f < s.gpu_milli:
                    continue
                after_free[g] = f - s.gpu_milli
                v = _sigmoid_score(before, self.meter.node(after_free, cpu_after, n.model))
                after_free[g] = f
                if best is None or v > best[0]:
                    best = (v, (g,))
            assert best is not None  # fits() found a GPU with room
            return best
        gpus = default_gpus(n, s)
        after_free = list(n.gpu_free)
        for g in gpus:
            after_free[g] -= s.gpu_milli
        after = self.meter.node(after_free, cpu_after, n.model)
        return _sigmoid_score(before, after), gpus


BASELINES: dict[str, type[Policy]] = {
    p.name: p
    for p in (
        RandomPolicy, DotProdPolicy, ClusteringPolicy, PackingPolicy, BestFitPolicy, FGDPolicy
    )
}
