"""The scheduling cycle: read through ports, decide purely, act through the executor.

Owns the order of one cycle and nothing else. The simulator and the live scheduler run
this same class; only the ports differ, so there is no `if simulate:` anywhere. It must not
place, divide or reclaim (fairshare.decide does) nor perform I/O itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fairshare.decide import decide
from fairshare.model import Policy
from scheduler.assume import AssumeCache
from scheduler.ports import (
    Clock,
    ClusterSource,
    CycleObserver,
    CycleReport,
    Executor,
    QuotaSource,
)


@dataclass
class SchedulingLoop:
    cluster: ClusterSource
    quotas: QuotaSource
    executor: Executor
    clock: Clock
    policy: Policy = field(default_factory=Policy)
    observers: Sequence[CycleObserver] = ()
    assumed: AssumeCache = field(default_factory=AssumeCache)
    nominated: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def run_cycle(self) -> CycleReport:
        now = self.clock.now()
        state = self.assumed.overlay(self.cluster.cluster_state(), now)
        snapshot = state.with_quota(self.quotas.quota_tree(), now, self.nominated)
        plan = decide(snapshot, self.policy)
        # Nominations carry the room a reclaim made over to the next cycle.
        self.nominated = dict(plan.nominated)
        result = self.executor.execute(plan)
        self.assumed.assume(result.bound, now)
        report = CycleReport(at=now, plan=plan, result=result)
        for observer in self.observers:
            observer.on_cycle(report)
        return report

    def run_forever(
        self,
        interval_seconds: float,
        sleep: Callable[[float], None],
        should_stop: Callable[[], bool],
    ) -> None:
        """Cycle until told to stop; `sleep` is injected so this module reads no clock."""
        while not should_stop():
            self.run_cycle()
            sleep(interval_seconds)
