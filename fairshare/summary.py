"""Per-project summary of a plan: what each project deserves, gets, runs and waits for.

Owns the counting behind `CyclePlan.projects` (the numbers the CLI table, the API's live
status and the metrics show), in one pass over the cycle's workloads. It must not decide
anything; it reads what decide.py did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from fairshare.model import (
    Binding,
    Eviction,
    ProjectSummary,
    ReasonCode,
    RunningWorkload,
    Workload,
)
from fairshare.quota_tree import QuotaTree


def summarize(
    tree: QuotaTree,
    *,
    fair: Mapping[str, int],
    demand: Mapping[str, int],
    allocated: Mapping[str, int],
    running: Iterable[RunningWorkload],
    pending: Iterable[Workload],
    bindings: Iterable[Binding],
    evictions: Mapping[str, Eviction],
) -> dict[str, ProjectSummary]:
    """`allocated` is what each project holds once the plan is applied."""
    runs: Counter[str] = Counter()
    waits: Counter[str] = Counter()
    bound = {b.workload: b.project for b in bindings}
    for r in running:
        if r.workload.name not in evictions and not r.terminating:
            runs[r.workload.project] += 1
    for project in bound.values():  # one entry per bound workload
        runs[project] += 1
    for w in pending:
        if w.name not in bound:
            waits[w.project] += 1
    for e in evictions.values():
        if e.reason != ReasonCode.RUN_TIME_LIMIT_EXCEEDED:  # requeued by its controller
            waits[e.project] += 1
    return {
        name: ProjectSummary(
            name=name,
            deserved_milli=p.deserved_milli,
            fair_share_milli=fair.get(name, 0),
            allocated_milli=allocated.get(name, 0),
            running=runs[name],
            pending=waits[name],
            demand_milli=demand.get(name, 0),
        )
        for name, p in sorted(tree.projects.items())
    }
