"""Fairness over time on Philly: the same jobs replayed under three reclaim modes.

Owns the experiment: each virtual cluster becomes a project deserving its share of the
cluster (`--nodes` x `--gpus-per-node` GPUs, in proportion to the VC's node count), each
job a one-pod train workload of its GPUs (up to a node; bigger jobs are a gang of whole
nodes), arrivals compressed by `--load` (inter-arrival times divided by it), and the whole
cycle run by the simulator (`simulations.runner`, the live loop and `fairshare.decide`;
an evicted job restarts from zero). Modes: `fair` (reclaim to the fair share), `deserved`
(reclaim only up to the deserved quota, `Policy.reclaim_to`), `none` (no reclaim). An
observer records every cycle's per-project fair share, allocation and pending count, and
the metrics are computed from it and the final state. It must not print or plot.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fairshare.model import GpuRequest, Node, PodSpec, Policy, Workload, WorkloadType
from fairshare.quota_tree import Project, QuotaTree
from scheduler.ports import CycleReport
from simulations.cluster import State
from simulations.convert import SimulationInput, TimedWorkload
from simulations.experiments.philly import PhillyJob, deserved_gpus
from simulations.recorder import WorkloadView
from simulations.runner import Simulation

MODES: dict[str, Policy] = {
    "fair": Policy(),
    "deserved": Policy(reclaim_to="deserved"),
    "none": Policy(reclaim=False),
}
MILLI = 1000


@dataclass(frozen=True)
class Setup:
    nodes: int = 352  # Philly's VCs' node counts add up to 352
    gpus_per_node: int = 8
    load: float = 1.0
    cycle_seconds: int = 60


@dataclass
class Observer:
    """Per cycle: (time, {project: (fair share, allocated, pending)}); starts and losses."""

    samples: list[tuple[int, dict[str, tuple[int, int, int]]]] = field(default_factory=list)
    first_start: dict[str, int] = field(default_factory=dict)
    last_start: dict[str, int] = field(default_factory=dict)
    evictions: int = 0
    lost_gpu_seconds: float = 0.0

    def on_cycle(self, report: CycleReport) -> None:
        at, plan = report.at, report.plan
        for e in plan.evictions:
            self.evictions += 1
            held = sum(a.gpu_milli for a in e.pods) / MILLI
            self.lost_gpu_seconds += held * (at - self.last_start.get(e.workload, at))
        for b in plan.bindings:
            self.first_start.setdefault(b.workload, at)
            self.last_start[b.workload] = at
        self.samples.append((at, {
            name: (p.fair_share_milli, p.allocated_milli, p.pending)
            for name, p in plan.projects.items()
        }))


def build_input(jobs: Sequence[PhillyJob], vcs: dict[str, int], setup: Setup, mode: str
                ) -> SimulationInput:
    capacity = setup.nodes * setup.gpus_per_node
    quota = deserved_gpus(vcs, capacity)
    tree = QuotaTree.build(
        [Project(vc, deserved_milli=g * MILLI) for vc, g in sorted(quota.items())]
    )
    nodes = tuple(
        Node(f"node-{i:04d}", gpu_count=setup.gpus_per_node, gpu_model="philly",
             cpu_milli=1_000_000, memory_bytes=1 << 40)
        for i in range(setup.nodes)
    )
    timed = tuple(_timed(j, setup) for j in jobs if j.vc in vcs)
    if not timed:
        raise ValueError("jobs: none belongs to a known virtual cluster")
    # Long enough for the last arrival to run its course once the queue drains.
    until = 2 * max(t.submit_at for t in timed) + max(t.duration or 0 for t in timed)
    return SimulationInput(f"philly-{mode}", "philly", until, nodes, tree, timed,
                           MODES[mode], setup.cycle_seconds)


def _timed(j: PhillyJob, setup: Setup) -> TimedWorkload:
    per_node = setup.gpus_per_node
    if j.gpus <= per_node:
        pods: tuple[PodSpec, ...] = (PodSpec(f"{j.name}-0", GpuRequest(whole=j.gpus)),)
    else:
        n = -(-j.gpus // per_node)
        pods = tuple(PodSpec(f"{j.name}-{k}", GpuRequest(whole=per_node)) for k in range(n))
    w = Workload(j.name, j.vc, pods, type=WorkloadType.TRAIN,
                 submit_time=int(j.submit_s / setup.load))
    return TimedWorkload(w, int(j.submit_s / setup.load), j.duration_s)


@dataclass(frozen=True)
class ProjectMetrics:
    project: str
    deserved_gpus: int
    jobs: int
    finished: int
    queue_mean_s: float
    queue_p50_s: float
    queue_p95_s: float
    jct_mean_s: float
    below_fair_share_s: int  # time with pending work while holding under the fair share


@dataclass(frozen=True)
class ModeResult:
    mode: str
    utilization: float
    jain_mean: float  # time-weighted mean of Jain's index of allocated / fair share
    evictions: int
    lost_gpu_hours: float
    projects: tuple[ProjectMetrics, ...]
    jain_series: tuple[tuple[int, float], ...]
    until: int


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def jain(ratios: Sequence[float]) -> float:
    if not ratios:
        return 1.0
    total = sum(ratios)
    squares = sum(r * r for r in ratios)
    return total * total / (len(ratios) * squares) if squares else 1.0


def run_mode(jobs: Sequence[PhillyJob], vcs: dict[str, int], setup: Setup, mode: str
             ) -> ModeResult:
    sim_input = build_input(jobs, vcs, setup, mode)
    sim = Simulation(sim_input)
    observer = Observer()
    sim.loop.observers = (*sim.loop.observers, observer)
    result = sim.run()
    end = result.final.at
    return ModeResult(
        mode, result.utilization, *_jain(observer, end), observer.evictions,
        round(observer.lost_gpu_seconds / 3600, 2),
        _projects(sim_input, result.final.workloads, observer, end), _jain_series(observer), end,
    )


def _jain_series(o: Observer) -> tuple[tuple[int, float], ...]:
    out = []
    for at, projects in o.samples:
        ratios = [a / f for f, a, _ in projects.values() if f > 0]
        out.append((at, round(jain(ratios), 4)))
    return tuple(out)


def _jain(o: Observer, end: int) -> tuple[float]:
    series = _jain_series(o)
    area = span = 0.0
    for (at, value), nxt in zip(series, [*series[1:], (end, 0.0)], strict=True):
        width = max(nxt[0] - at, 0)
        area += value * width
        span += width
    return (round(area / span, 4) if span else 1.0,)


def _projects(sim_input: SimulationInput, views: Mapping[str, WorkloadView],
              o: Observer, end: int) -> tuple[ProjectMetrics, ...]:
    below: dict[str, int] = {}
    for (at, projects), nxt in zip(o.samples, [*o.samples[1:], (end, {})], strict=True):
        for name, (fair, alloc, pending) in projects.items():
            if pending and alloc < fair:
                below[name] = below.get(name, 0) + max(nxt[0] - at, 0)
    out = []
    for p in sorted(sim_input.quota.projects.values(), key=lambda p: p.name):
        mine = [t for t in sim_input.workloads if t.workload.project == p.name]
        queue = [float(o.first_start[t.workload.name] - t.submit_at) for t in mine
                 if t.workload.name in o.first_start]
        done = [views[t.workload.name] for t in mine
                if views[t.workload.name].state == State.FINISHED]
        jct = [float(v.ended_at - v.submit_at) for v in done if v.ended_at is not None]
        out.append(ProjectMetrics(
            p.name, p.deserved_milli // MILLI, len(mine), len(done),
            round(statistics.fmean(queue), 1) if queue else 0.0,
            _pct(queue, 0.5), _pct(queue, 0.95),
            round(statistics.fmean(jct), 1) if jct else 0.0, below.get(p.name, 0),
        ))
    return tuple(out)
