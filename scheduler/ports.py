"""The ports the cycle loop talks through; adapters implement them.

Owns the four seams between the loop and the world: where cluster state comes from,
where the quota tree comes from, who performs the plan, and what time it is. The live
scheduler plugs Kubernetes and the REST API in here, the simulator an in-memory cluster
and a virtual clock. It must not contain an implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fairshare.model import (
    Binding,
    CyclePlan,
    Eviction,
    ForeignUsage,
    Node,
    RunningWorkload,
    Snapshot,
    Workload,
)
from fairshare.quota_tree import QuotaTree


@dataclass(frozen=True)
class ClusterState:
    """The cluster as one read sees it (the quota tree comes from elsewhere)."""

    nodes: tuple[Node, ...]
    running: tuple[RunningWorkload, ...] = ()
    pending: tuple[Workload, ...] = ()
    foreign: tuple[ForeignUsage, ...] = ()

    def with_quota(
        self, quota: QuotaTree, now: int, nominated: Mapping[str, tuple[str, ...]] | None = None
    ) -> Snapshot:
        return Snapshot(
            nodes=self.nodes,
            quota=quota,
            running=self.running,
            pending=self.pending,
            foreign=self.foreign,
            now=now,
            nominated=dict(nominated or {}),
        )


@dataclass(frozen=True)
class ExecutionResult:
    """What the executor managed; failures are retried by a later cycle."""

    bound: tuple[Binding, ...] = ()
    evicted: tuple[Eviction, ...] = ()
    failed_bindings: Mapping[str, str] = field(default_factory=dict)  # pod -> error
    failed_evictions: Mapping[str, str] = field(default_factory=dict)  # workload -> error


class ClusterSource(Protocol):
    def cluster_state(self) -> ClusterState: ...


class QuotaSource(Protocol):
    def quota_tree(self) -> QuotaTree: ...


class Executor(Protocol):
    def execute(self, plan: CyclePlan) -> ExecutionResult: ...


class Clock(Protocol):
    def now(self) -> int:
        """Seconds since an epoch the whole run agrees on."""
        ...


@dataclass(frozen=True)
class CycleReport:
    at: int
    plan: CyclePlan
    result: ExecutionResult


class CycleObserver(Protocol):
    def on_cycle(self, report: CycleReport) -> None: ...
