"""The discrete-event run: scenario events and scheduling cycles on a virtual clock.

Owns what happens at each simulated instant: apply every event due then (finishes, then
deletes, then submissions), run `scheduler.loop.SchedulingLoop` (the very loop the live
scheduler runs; there is no second loop) against the in-memory cluster, run it again at
the same instant while a cycle evicted something (victims are gone at once here, so the
waiting workload binds without a pause; bounded), sample the timeline, and check the
`expect:` entries due. Periodic cycles every `cycle_seconds` keep going while anything is
pending (a reclaim blocked by min_runtime happens later), and a cycle is scheduled exactly
when a run-time limit is passed. Stops at `until`. It must not decide (the core does) nor
format output (result.py and report.py do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from fairshare.model import WorkloadType, run_time_limit
from fairshare.quota_tree import QuotaTree
from scheduler.loop import SchedulingLoop
from scheduler.ports import CycleReport
from simulations.cluster import InMemoryCluster
from simulations.convert import SimulationInput
from simulations.engine import EventQueue, VirtualClock
from simulations.expectations import CheckResult, check_at, check_window
from simulations.recorder import Recorder
from simulations.result import SimulationResult

MAX_CYCLES_PER_INSTANT = 5
Progress = Callable[[int, int], None]  # (simulated now, until)


class Kind(IntEnum):
    """Also the order of events at one instant: room is freed before it is asked for."""

    FINISH = 0
    DELETE = 1
    SUBMIT = 2
    TICK = 3  # a periodic cycle
    LIMIT = 4  # a run-time limit has just been passed: cycle so the core can act
    EXPECT = 5  # checked after every cycle of the instant


@dataclass(frozen=True)
class Event:
    kind: Kind
    subject: str = ""  # workload name
    run_id: int = 0  # for FINISH: which run of the workload it ends
    index: int = -1  # for EXPECT: which entry


@dataclass(frozen=True)
class StaticQuota:
    """The QuotaSource of a simulation: the scenario's tree, which never changes."""

    tree: QuotaTree

    def quota_tree(self) -> QuotaTree:
        return self.tree


class Simulation:
    def __init__(self, sim: SimulationInput, progress: Progress | None = None) -> None:
        self.sim = sim
        self.progress = progress
        self.clock = VirtualClock()
        self.cluster = InMemoryCluster(sim.nodes, sim.quota, self.clock)
        self.recorder = Recorder(self.cluster, sim.quota)
        self.loop = SchedulingLoop(
            cluster=self.cluster,
            quotas=StaticQuota(sim.quota),
            executor=self.cluster,
            clock=self.clock,
            policy=sim.policy,
            observers=(self.recorder,),
        )
        self.queue: EventQueue[Event] = EventQueue()
        self.checks: list[CheckResult] = []
        self._timed = {t.workload.name: t for t in sim.workloads}
        self._next_tick: int | None = None

    def run(self) -> SimulationResult:
        self._schedule_inputs()
        while (at := self.queue.peek_time()) is not None and at <= self.sim.until:
            self.clock.advance_to(at)
            self._instant(at, self.queue.pop_due(at))
            if self.progress is not None:
                self.progress(at, self.sim.until)
        self.clock.advance_to(self.sim.until)
        for i, e in enumerate(self.sim.expectations):
            if e.at is None:
                self.checks.extend(check_window(i, e, self.cluster.evictions))
        return self._result()

    def _schedule_inputs(self) -> None:
        for t in self.sim.workloads:
            self.cluster.add(t.workload)
            self.queue.push(t.submit_at, Kind.SUBMIT, Event(Kind.SUBMIT, t.workload.name))
            if t.delete_at is not None:
                self.queue.push(t.delete_at, Kind.DELETE, Event(Kind.DELETE, t.workload.name))
        for i, e in enumerate(self.sim.expectations):
            if e.at is not None:
                self.queue.push(e.at, Kind.EXPECT, Event(Kind.EXPECT, index=i))

    # ------------------------------------------------------------------ one instant

    def _instant(self, at: int, events: list[Event]) -> None:
        changed = False
        for event in events:
            changed |= self._apply(event, at)
        if changed:
            self._cycles(at)
        self.recorder.sample(at)
        due = [e for e in events if e.kind == Kind.EXPECT]
        if due:
            view = self.recorder.view(at)
            for e in due:
                self.checks.extend(check_at(e.index, self.sim.expectations[e.index], view))
        if self.cluster.has_pending() and (self._next_tick is None or self._next_tick <= at):
            self._next_tick = at + self.sim.cycle_seconds
            self.queue.push(self._next_tick, Kind.TICK, Event(Kind.TICK))

    def _apply(self, event: Event, at: int) -> bool:
        """Apply one event; True when a cycle should follow."""
        match event.kind:
            case Kind.SUBMIT:
                return self.cluster.submit(event.subject)
            case Kind.DELETE:
                return self.cluster.delete(event.subject)
            case Kind.FINISH:
                return self.cluster.finish(event.subject, event.run_id)
            case Kind.TICK:
                if self._next_tick == at:
                    self._next_tick = None
                return True
            case Kind.LIMIT:
                return True
        return False

    def _cycles(self, at: int) -> None:
        for _ in range(MAX_CYCLES_PER_INSTANT):
            report = self.loop.run_cycle()
            self._on_started(report, at)
            if not report.result.evicted:
                return

    def _on_started(self, report: CycleReport, at: int) -> None:
        """Schedule the end of each run that started, and the check of its run-time limit."""
        for name in sorted({b.workload for b in report.result.bound}):
            record = self.cluster.record(name)
            timed = self._timed[name]
            if timed.duration is not None:
                finish = Event(Kind.FINISH, name, run_id=record.run_id)
                self.queue.push(at + timed.duration, Kind.FINISH, finish)
            limit = self._run_time_limit(record.workload.project, record.workload.type)
            if limit is not None:
                self.queue.push(at + limit + 1, Kind.LIMIT, Event(Kind.LIMIT, name))

    def _run_time_limit(self, project: str, kind: WorkloadType) -> int | None:
        return run_time_limit(self.sim.quota.projects[project], kind)

    def _result(self) -> SimulationResult:
        return SimulationResult(
            sim=self.sim,
            final=self.recorder.view(self.sim.until),
            timeline=tuple(self.recorder.timeline),
            evictions=tuple(self.cluster.evictions),
            refused=tuple(self.recorder.refused),
            checks=tuple(sorted(self.checks, key=_check_order)),
            cycles=self.recorder.cycles,
            eviction_log=tuple(self.recorder.evictions),
            bindings=tuple(self.recorder.bindings),
        )


def _check_order(c: CheckResult) -> int:
    """By entry, in file order; checks of one entry keep the order they were made in."""
    return int(c.entry.removeprefix("expect[").removesuffix("]"))


def simulate(sim: SimulationInput, progress: Progress | None = None) -> SimulationResult:
    return Simulation(sim, progress).run()
