"""`quotient bench cycle`: how long one decision takes on a large synthetic cluster.

Owns the synthetic workload of the cycle benchmark (N nodes of 8 GPUs, P pending pods over
K projects, a seeded mix of whole and fractional requests, optionally a cluster already
half full) and its timing: `decide` is run several times on the same snapshot and the
median is reported with placements per second. It must not change the decision code's
behaviour, and it prints figures rather than asserting targets (CI stays untimed).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass
from enum import StrEnum

import typer

from fairshare.decide import decide
from fairshare.model import (
    GpuRequest,
    Node,
    PodSpec,
    Policy,
    RunningWorkload,
    Snapshot,
    Workload,
    WorkloadType,
)
from fairshare.quota_tree import Project, QuotaTree

GIB = 1 << 30


class Placement(StrEnum):
    """The choices of --placement, so a typo is refused before anything runs."""

    BINPACK = "binpack"
    SPREAD = "spread"

# (whole GPUs, fraction milli, weight): mostly 1-GPU and fractional pods, as in OpenB.
SHAPES = [
    (1, 0, 40),
    (2, 0, 10),
    (4, 0, 6),
    (8, 0, 4),
    (0, 500, 15),
    (0, 250, 10),
    (0, 300, 8),
    (0, 700, 7),
]


@dataclass(frozen=True)
class BenchConfig:
    nodes: int = 1000
    pending: int = 10000
    projects: int = 50
    runs: int = 5
    seed: int = 1
    placement: str = "binpack"
    running: float = 0.0  # share of GPUs already held by running workloads (0..1)


def synthetic_snapshot(cfg: BenchConfig) -> Snapshot:
    rng = random.Random(cfg.seed)
    nodes = tuple(
        Node(f"node-{i:05d}", 8, 81920, "A100", 128_000, 1024 * GIB) for i in range(cfg.nodes)
    )
    capacity = cfg.nodes * 8
    names = [f"project-{k:03d}" for k in range(cfg.projects)]
    # Deserved quotas add up to the cluster, unevenly, as real teams' do.
    raw = [rng.randint(1, 10) for _ in names]
    deserved = [capacity * r // sum(raw) for r in raw]
    tree = QuotaTree.build([Project(n, d * 1000) for n, d in zip(names, deserved, strict=True)])
    shapes = [s[:2] for s in SHAPES]
    weights = [s[2] for s in SHAPES]
    pending = []
    for i in range(cfg.pending):
        whole, frac = rng.choices(shapes, weights)[0]
        kind = WorkloadType.INTERACTIVE if frac and rng.random() < 0.5 else WorkloadType.TRAIN
        pod = PodSpec(f"pod-{i:06d}", GpuRequest(whole=whole, fraction_milli=frac), 4000, 16 * GIB)
        pending.append(
            Workload(
                f"wl-{i:06d}",
                rng.choice(names),
                (pod,),
                type=kind,
                priority=rng.choice([0, 0, 0, 10]),
                submit_time=rng.randint(0, 3600),
            )
        )
    snap = Snapshot(nodes, tree, pending=tuple(pending), now=3600)
    return _prefill(snap, cfg, rng) if cfg.running > 0 else snap


def _prefill(snap: Snapshot, cfg: BenchConfig, rng: random.Random) -> Snapshot:
    """Start from a cluster already `running` full: let one cycle place a first wave of
    work (skewed to a few projects, so some run over their fair share and reclaim has
    victims), then ask again with the benchmark's pending pods."""
    capacity = cfg.nodes * 8
    heavy = sorted(snap.quota.projects)[: max(1, cfg.projects // 5)]
    wave, filled, i = [], 0, 0
    while filled < capacity * cfg.running:
        pod = PodSpec(f"run-{i:06d}", GpuRequest(whole=1), 4000, 16 * GIB)
        wave.append(Workload(f"running-{i:06d}", rng.choice(heavy), (pod,), submit_time=0))
        filled, i = filled + 1, i + 1
    first = decide(Snapshot(snap.nodes, snap.quota, pending=tuple(wave), now=0))
    by_name = {w.name: w for w in wave}
    running = tuple(
        RunningWorkload(by_name[b.workload], (b.assignment,), 0) for b in first.bindings
    )
    return Snapshot(snap.nodes, snap.quota, running=running, pending=snap.pending, now=3600)


def run_bench(cfg: BenchConfig) -> dict[str, object]:
    snap = synthetic_snapshot(cfg)
    policy = Policy(placement=cfg.placement)
    timings: list[float] = []
    plan = None
    for _ in range(cfg.runs):
        started = time.perf_counter()
        plan = decide(snap, policy)
        timings.append(time.perf_counter() - started)
    assert plan is not None
    median = statistics.median(timings)
    bound = len(plan.bindings)
    return {
        "nodes": cfg.nodes,
        "gpus": cfg.nodes * 8,
        "pending": cfg.pending,
        "projects": cfg.projects,
        "runs": cfg.runs,
        "median_cycle_seconds": round(median, 4),
        "min_cycle_seconds": round(min(timings), 4),
        "max_cycle_seconds": round(max(timings), 4),
        "placements": bound,
        "placements_per_second": round(bound / median, 1) if median else None,
        "still_pending": len(plan.pending),
        "running_before": len(snap.running),
        "evictions": len(plan.evictions),
        "allocated_gpus": plan.allocated_milli / 1000,
    }


def register_bench(bench: typer.Typer) -> None:
    @bench.command("cycle")
    def cycle(
        nodes: int = typer.Option(1000, min=1, help="Nodes of 8 GPUs each."),
        pending: int = typer.Option(10000, min=0, help="Pending pods (one-pod workloads)."),
        projects: int = typer.Option(50, min=1, help="Projects sharing the cluster."),
        runs: int = typer.Option(5, min=1, help="Decisions to time; the median is reported."),
        seed: int = typer.Option(1, help="Seed of the synthetic workload."),
        placement: Placement = typer.Option(Placement.BINPACK, help="How whole GPUs are placed."),
        running: float = typer.Option(
            0.0, min=0.0, max=1.0,
            help="Share of GPUs already running, 0 to 1 (skewed to a fifth of the projects), "
            "so the cycle also searches for reclaim victims.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
    ) -> None:
        """Time one scheduling decision on a synthetic cluster."""
        cfg = BenchConfig(nodes, pending, projects, runs, seed, placement.value, running)
        result = run_bench(cfg)
        if as_json:
            typer.echo(json.dumps(result))
        else:
            for key, value in result.items():
                typer.echo(f"{key:>24}: {value}")
