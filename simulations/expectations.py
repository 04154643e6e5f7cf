"""Checking a scenario's `expect:` entries against what the run did.

Owns the meaning of each expectation: `at: T` compares the cluster after every cycle at T
(allocations, counts, workload states, reasons, memory limits) and `between: [A, B]` /
`after: T` count the evictions in a window (A..B inclusive; after T = strictly later, to
the end of the run). Each comparison is one `CheckResult` saying what was expected and what
was found. GPU amounts are compared exactly in milli-GPUs. It must not run anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from fairshare.resources import gpus_to_milli, milli_to_float
from simulations.cluster import EvictionRecord, State
from simulations.recorder import ClusterView
from simulations.scenario import Expectation, ProjectExpect, WorkloadExpect

Value = int | float | str | list[str] | None


@dataclass(frozen=True)
class CheckResult:
    entry: str  # "expect[3]"
    when: str  # "at 600", "between 600 and 1199", "after 1200"
    check: str  # "projects.team-b.allocated_gpus"
    expected: Value
    actual: Value
    passed: bool
    detail: str = ""

    @property
    def message(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        text = (
            f"{self.entry} ({self.when}): {self.check}: expected {_show(self.expected)}, "
            f"got {_show(self.actual)} [{verdict}]"
        )
        return f"{text} ({self.detail})" if self.detail else text


def _show(value: Value) -> str:
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return "null" if value is None else str(value)


def when_of(e: Expectation) -> str:
    if e.at is not None:
        text = f"at {e.at}"
    elif e.between is not None:
        text = f"between {e.between[0]} and {e.between[1]}"
    else:
        text = f"after {e.after}"
    return f"{text}: {e.note}" if e.note else text


def _gpus(milli: int | None) -> float | None:
    return None if milli is None else milli_to_float(milli)


# ------------------------------------------------------------------------ at a time


Made = tuple[str, Value, Value, bool]


def _gpu_check(name: str, want: Decimal | None, actual: int | None) -> list[Made]:
    if want is None:
        return []
    milli = gpus_to_milli(want)
    return [(name, milli_to_float(milli), _gpus(actual), actual == milli)]


def _count_check(name: str, want: int | None, actual: int) -> list[Made]:
    return [] if want is None else [(name, want, actual, want == actual)]


def check_at(index: int, e: Expectation, view: ClusterView) -> list[CheckResult]:
    made = [
        *_gpu_check("allocated_gpus", e.allocated_gpus, view.allocated_milli),
        *_count_check("running", e.running, view.count(State.RUNNING)),
        *_count_check("pending", e.pending, view.count(State.PENDING)),
    ]
    for name, pe in sorted(e.projects.items()):
        made.extend(_project_checks(name, pe, view))
    for name, we in sorted(e.workloads.items()):
        made.extend(_workload_checks(name, we, view))
    when = when_of(e)
    return [CheckResult(f"expect[{index}]", when, c, x, a, ok) for c, x, a, ok in made]


def _project_checks(name: str, pe: ProjectExpect, view: ClusterView) -> list[Made]:
    p, prefix = view.projects[name], f"projects.{name}"
    return [
        *_gpu_check(f"{prefix}.allocated_gpus", pe.allocated_gpus, p.allocated_milli),
        *_gpu_check(f"{prefix}.fair_share_gpus", pe.fair_share_gpus, p.fair_share_milli),
        *_count_check(f"{prefix}.running", pe.running, p.running),
        *_count_check(f"{prefix}.pending", pe.pending, p.pending),
    ]


def _workload_checks(name: str, we: WorkloadExpect, view: ClusterView) -> Iterator[Made]:
    w = view.workloads[name]
    prefix = f"workloads.{name}"
    if we.state is not None:
        yield f"{prefix}.state", we.state, w.state.value, we.state == w.state.value
    if we.reason is not None:
        actual = w.reason.code if w.reason else None
        yield f"{prefix}.reason", we.reason.value, actual, actual == we.reason.value
    if we.node is not None:
        yield f"{prefix}.node", we.node, w.node, we.node == w.node
    if we.gpu_memory_limit_mib is not None:
        limit = w.gpu_memory_limit_mib
        yield (
            f"{prefix}.gpu_memory_limit_mib",
            we.gpu_memory_limit_mib,
            limit,
            (limit == we.gpu_memory_limit_mib),
        )
    if we.gpu_load_at_most is not None:
        most = gpus_to_milli(we.gpu_load_at_most)
        load = view.gpu_load(name) if w.assignments else None
        ok = load is not None and load <= most
        yield f"{prefix}.gpu_load_at_most", milli_to_float(most), _gpus(load), ok
    if we.evictions is not None:
        yield f"{prefix}.evictions", we.evictions, w.evictions, we.evictions == w.evictions


# -------------------------------------------------------------------- over a window


def in_window(e: Expectation, log: Sequence[EvictionRecord]) -> list[EvictionRecord]:
    if e.between is not None:
        low, high = e.between
        return [r for r in log if low <= r.at <= high]
    after = e.after if e.after is not None else -1
    return [r for r in log if r.at > after]


def check_window(index: int, e: Expectation, log: Sequence[EvictionRecord]) -> list[CheckResult]:
    seen = in_window(e, log)
    detail = "evicted: " + (
        ", ".join(f"{r.workload} ({r.project}, {r.type}) at {r.at}" for r in seen) or "none"
    )
    made: list[Made] = []
    if isinstance(e.evictions, int):
        made.append(("evictions", e.evictions, len(seen), e.evictions == len(seen)))
    elif e.evictions is not None:
        for project, want in sorted(e.evictions.items()):
            got = sum(1 for r in seen if r.project == project)
            made.append((f"evictions.{project}", want, got, want == got))
    for kind, want in sorted(e.evictions_by_type.items()):
        got = sum(1 for r in seen if r.type == kind)
        made.append((f"evictions_by_type.{kind.value}", want, got, want == got))
    names = sorted({r.workload for r in seen})
    if e.evicted:
        listed, hit = sorted(set(e.evicted)), sorted(set(e.evicted) & set(names))
        made.append(("evicted", listed, hit, listed == hit))
    if e.not_evicted:
        hit = sorted(set(e.not_evicted) & set(names))
        made.append(("not_evicted", [], hit, not hit))
    when = when_of(e)
    return [CheckResult(f"expect[{index}]", when, c, x, a, ok, detail) for c, x, a, ok in made]
