"""The FGD paper's replay: pods arrive one at a time, never leave, and are dropped if they do
not fit; the allocation ratio and fragmentation are recorded after every arrival.

Owns the arrival list (pods sorted by name, shuffled by the seed, then copies of pods drawn
at random appended while the GPU requests stay within `tune` x the cluster's GPU capacity:
the authors' `tuneUpPods` rule, which tests the next copy's milli per GPU against the
target), one (policy, seed) run, and the reduction of the per-arrival samples to one row
per integer arrived percent, as the authors' merge scripts do (mean of the samples whose
arrived percent rounds to it, else of those within one percent). `quotient` drives the
live scheduler's `fairshare.placement.Placer` on a ledger of the cluster, fed with the shape
mix of the pods that have arrived. Same inputs and seed, same rows. It must not print.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulations.experiments.fgd_model import (
    ClusterMeter,
    FragMeter,
    NodeState,
    shape_of,
    typical_shapes,
)
from simulations.experiments.fgd_policies import BASELINES, Choice, Policy, Request
from simulations.experiments.fgd_quotient import QuotientPolicy
from simulations.experiments.openb import MILLI, TraceNode, TracePod

POLICIES = (*BASELINES, "quotient")
TUNE = 1.3
MAX_PCT = 130

Progress = Callable[[int, int], None]  # (arrivals done, arrivals in all)


@dataclass(frozen=True)
class Sample:
    arrived_milli: int
    allocated_milli: int
    frag_milli: float
    idle_milli: int


@dataclass(frozen=True)
class Row:
    policy: str
    seed: int
    arrived_pct: int
    alloc_pct: float
    frag_rate_pct: float
    frag_pct: float


@dataclass(frozen=True)
class RunResult:
    policy: str
    seed: int
    rows: tuple[Row, ...]
    arrivals: int
    placed: int
    seconds: float

    @property
    def arrivals_per_second(self) -> float:
        return self.arrivals / self.seconds if self.seconds > 0 else float("inf")


def arrivals(
    pods: Sequence[TracePod], capacity_milli: int, seed: int, tune: float = TUNE
) -> list[TracePod]:
    """The shuffled pod list, topped up with random copies to `tune` x capacity."""
    rng = random.Random(seed)
    by_name = sorted(pods, key=lambda p: p.name)
    order = list(by_name)
    rng.shuffle(order)
    target = tune * capacity_milli
    total = sum(p.total_gpu_milli for p in order)
    while order and total > target:  # the authors' tuneDownPods
        total -= order.pop(rng.randrange(len(order))).total_gpu_milli
    i = 0
    while True:
        p = by_name[rng.randrange(len(by_name))]
        if total + p.gpu_milli > target:
            break
        total += p.total_gpu_milli
        order.append(
            TracePod(f"{p.name}-tuned-{i}", p.cpu_milli, p.memory_mib, p.gpus, p.gpu_milli,
                     p.gpu_spec)
        )
        i += 1
    return order


def make_policy(
    name: str, nodes: Sequence[NodeState], trace_nodes: Sequence[TraceNode], seed: int,
    meter: FragMeter,
) -> Policy | QuotientPolicy:
    if name == "quotient":
        return QuotientPolicy(nodes, trace_nodes)
    if name not in BASELINES:
        raise ValueError(f"policy: unknown {name!r}; choose one of {', '.join(POLICIES)}")
    return BASELINES[name](nodes, random.Random(seed), meter)


def replay(
    trace_nodes: Sequence[TraceNode],
    pods: Sequence[TracePod],
    policy_name: str,
    seed: int,
    *,
    tune: float = TUNE,
    progress: Progress | None = None,
) -> RunResult:
    nodes = [NodeState(n) for n in sorted(trace_nodes, key=lambda n: n.name)]
    meter = FragMeter(typical_shapes(pods))
    cluster = ClusterMeter(nodes, meter)
    policy = make_policy(policy_name, nodes, trace_nodes, seed, meter)
    order = arrivals(pods, cluster.capacity_milli, seed, tune)
    samples = [Sample(0, cluster.allocated_milli, cluster.frag_milli, cluster.idle_milli)]
    arrived = placed = 0
    started = time.perf_counter()
    for k, pod in enumerate(order, start=1):
        arrived += pod.total_gpu_milli
        request = Request(shape_of(pod), pod.memory_mib)
        choice = policy.choose(request)
        if choice is not None:
            _apply(nodes, cluster, policy, request, choice)
            placed += 1
        samples.append(Sample(arrived, cluster.allocated_milli, cluster.frag_milli,
                              cluster.idle_milli))
        if progress is not None and (k % 256 == 0 or k == len(order)):
            progress(k, len(order))
    seconds = time.perf_counter() - started
    rows = discretize(policy_name, seed, samples, cluster.capacity_milli)
    return RunResult(policy_name, seed, rows, len(order), placed, seconds)


def _apply(
    nodes: Sequence[NodeState],
    cluster: ClusterMeter,
    policy: Policy | QuotientPolicy,
    r: Request,
    choice: Choice,
) -> None:
    index, gpus = choice
    if len(gpus) != r.shape.gpus:
        raise AssertionError(f"policy {policy.name} chose {len(gpus)} GPUs for {r.shape}")
    n = nodes[index]
    for g in gpus:
        if n.gpu_free[g] < r.shape.gpu_milli:
            raise AssertionError(f"policy {policy.name} over-committed GPU {g} of {n.name}")
    n.take(r.shape.cpu_milli, r.memory_mib, gpus, r.shape.gpu_milli)
    if n.cpu_free < 0 or n.mem_free < 0:
        raise AssertionError(f"policy {policy.name} over-committed CPU or memory of {n.name}")
    cluster.changed(index, r.shape.gpu_milli * len(gpus))
    policy.placed(index, r)


def _pct(milli: float, capacity_milli: int) -> float:
    return 100.0 * milli / capacity_milli


def discretize(
    policy: str, seed: int, samples: Sequence[Sample], capacity_milli: int
) -> tuple[Row, ...]:
    """One row per integer arrived percent 0..130, the authors' way."""
    by_pct: dict[int, list[Sample]] = {}
    for s in samples:
        by_pct.setdefault(round(_pct(s.arrived_milli, capacity_milli)), []).append(s)
    rows = []
    for pct in range(MAX_PCT + 1):
        chosen = by_pct.get(pct) or [
            s for p in (pct - 1, pct, pct + 1) for s in by_pct.get(p, ())
        ]
        if not chosen:
            continue
        alloc = sum(round(_pct(s.allocated_milli, capacity_milli), 2) for s in chosen)
        rate = sum(100.0 * s.frag_milli / s.idle_milli if s.idle_milli else 0.0 for s in chosen)
        frag = sum(s.frag_milli for s in chosen)
        n = len(chosen)
        rows.append(Row(policy, seed, pct, round(alloc / n, 2), round(rate / n, 2),
                        round(100.0 * frag / n / capacity_milli, 2)))
    return tuple(rows)


def gpu_capacity_milli(trace_nodes: Sequence[TraceNode]) -> int:
    return sum(n.gpus * MILLI for n in trace_nodes)
