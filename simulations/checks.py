"""Cross-checks of a scenario: relations between entries that no single field can see.

Owns the rules that make a scenario runnable: unique names, references that exist (a
workload's project, a project's department and node pools, names an expectation checks),
one GPU ask per workload, times that make sense, and that every workload could fit the
cluster at all (a pod on some node, a gang somewhere in the whole cluster). It returns every
problem at once so a person fixes the file in one go. It must not convert or run anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from fairshare.model import DEFAULT_POOL, POOL_LABEL, GpuRequest
from fairshare.resources import MILLI_PER_GPU, gpus_to_milli
from simulations.scenario import (
    Expectation,
    NodeSpec,
    Problem,
    Scenario,
    WorkloadSpec,
)

GPU_FIELDS = ("gpus", "gpu_fraction", "gpu_memory_mib")


def check(s: Scenario) -> list[Problem]:
    return [
        *_unique_names(s),
        *_quota_refs(s),
        *_workloads(s),
        *_expectations(s),
    ]


def _entry(section: str, index: int, name: str | None = None, field: str = "") -> str:
    label = f"{section}[{index}]" + (f" ({name})" if name else "")
    return f"{label}.{field}" if field else label


def node_names(spec: NodeSpec) -> list[str]:
    return (
        [spec.name] if spec.count == 1 else [f"{spec.name}-{i}" for i in range(1, spec.count + 1)]
    )


def pod_names(w: WorkloadSpec) -> list[str]:
    return [w.name] if w.pods == 1 else [f"{w.name}-{i}" for i in range(w.pods)]


# ---------------------------------------------------------------------------- names


def _duplicates(
    section: str, items: Iterable[tuple[int, str, list[str]]], kind: str
) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for index, name, produced in items:
        for made in produced:
            if made in seen:
                yield Problem(
                    _entry(section, index, name, "name"),
                    f"{kind} {made!r} is already defined by {seen[made]}",
                )
            else:
                seen[made] = _entry(section, index, name)


def _unique_names(s: Scenario) -> Iterator[Problem]:
    nodes = [(i, n.name, node_names(n)) for i, n in enumerate(s.cluster.nodes)]
    yield from _duplicates("cluster.nodes", nodes, "node")
    quota = [("departments", i, d.name) for i, d in enumerate(s.departments)]
    quota += [("projects", i, p.name) for i, p in enumerate(s.projects)]
    seen: dict[str, str] = {}
    for section, i, name in quota:
        if name in seen:
            yield Problem(
                _entry(section, i, name, "name"), f"{name!r} is already defined by {seen[name]}"
            )
        seen.setdefault(name, _entry(section, i, name))
    yield from _duplicates(
        "workloads", [(i, w.name, [w.name]) for i, w in enumerate(s.workloads)], "workload"
    )
    first = {w.name: i for i, w in reversed(list(enumerate(s.workloads)))}
    # a repeated workload name is reported once above, not again for its pods
    pods = [(i, w.name, pod_names(w)) for i, w in enumerate(s.workloads) if first[w.name] == i]
    yield from _duplicates("workloads", pods, "pod")


# ---------------------------------------------------------------------------- quotas


def _quota_refs(s: Scenario) -> Iterator[Problem]:
    departments = {d.name for d in s.departments}
    pools = sorted({n.labels.get(POOL_LABEL, DEFAULT_POOL) for n in s.cluster.nodes})
    for i, d in enumerate(s.departments):
        if d.parent is not None and d.parent not in departments:
            yield Problem(
                _entry("departments", i, d.name, "parent"),
                _missing("department", d.parent, departments),
            )
        yield from _limit_below_deserved("departments", i, d.name, d.limit_gpus, d.deserved_gpus)
    for i, p in enumerate(s.projects):
        if p.department is not None and p.department not in departments:
            yield Problem(
                _entry("projects", i, p.name, "department"),
                _missing("department", p.department, departments),
            )
        yield from _limit_below_deserved("projects", i, p.name, p.limit_gpus, p.deserved_gpus)
        for pool in p.node_pools:
            if pool not in pools:
                yield Problem(
                    _entry("projects", i, p.name, "node_pools"),
                    f"node pool {pool!r} has no nodes (pools: {', '.join(pools)}; a node's pool "
                    f"is its label {POOL_LABEL})",
                )


def _missing(kind: str, name: str, known: Iterable[str]) -> str:
    listed = ", ".join(sorted(known)) or "none"
    return f"{kind} {name!r} does not exist ({kind}s: {listed})"


def _limit_below_deserved(
    section: str, i: int, name: str, limit: Decimal | None, deserved: Decimal
) -> Iterator[Problem]:
    if limit is not None and limit < deserved:
        yield Problem(
            _entry(section, i, name, "limit_gpus"),
            f"limit_gpus {limit} is below deserved_gpus {deserved}",
        )


# -------------------------------------------------------------------------- workloads


def _workloads(s: Scenario) -> Iterator[Problem]:
    projects = {p.name for p in s.projects}
    for i, w in enumerate(s.workloads):
        if w.project not in projects:
            yield Problem(
                _entry("workloads", i, w.name, "project"), _missing("project", w.project, projects)
            )
        asks = [f for f in GPU_FIELDS if getattr(w, f) is not None]
        if len(asks) != 1:
            got = " and ".join(asks) if asks else "none"
            yield Problem(
                _entry("workloads", i, w.name),
                f"give exactly one of gpus, gpu_fraction, gpu_memory_mib (got {got})",
            )
            continue
        yield from _times(s, i, w)
        if w.min_pods is not None and w.min_pods > w.pods:
            yield Problem(
                _entry("workloads", i, w.name, "min_pods"),
                f"min_pods {w.min_pods} is more than pods {w.pods}",
            )
            continue
        never = never_fits(w, s.cluster.nodes)
        if never:
            yield Problem(_entry("workloads", i, w.name), never)


def _times(s: Scenario, i: int, w: WorkloadSpec) -> Iterator[Problem]:
    if w.submit_at > s.until:
        yield Problem(
            _entry("workloads", i, w.name, "submit_at"),
            f"submit_at {w.submit_at} is after until {s.until}: it would never be submitted",
        )
    if w.delete_at is not None and w.delete_at <= w.submit_at:
        yield Problem(
            _entry("workloads", i, w.name, "delete_at"),
            f"delete_at {w.delete_at} must be after submit_at {w.submit_at}",
        )


def gpu_request(w: WorkloadSpec) -> GpuRequest:
    if w.gpus is not None:
        return GpuRequest(whole=w.gpus)
    if w.gpu_fraction is not None:
        return GpuRequest(fraction_milli=gpus_to_milli(w.gpu_fraction))
    return GpuRequest(memory_mib=w.gpu_memory_mib or 0)


def _pods_per_node(w: WorkloadSpec, n: NodeSpec) -> int:
    """How many pods of this workload an empty node of this shape could hold."""
    ask = gpu_request(w)
    if ask.whole:
        fit = n.gpus // ask.whole
    else:
        milli = ask.milli_on(n.gpu_memory_mib)
        fit = n.gpus * (MILLI_PER_GPU // milli) if milli <= MILLI_PER_GPU else 0
    if w.cpu:
        fit = min(fit, (n.cpu or 0) // w.cpu)
    if w.memory:
        fit = min(fit, (n.memory or 0) // w.memory)
    return fit


def never_fits(w: WorkloadSpec, nodes: Iterable[NodeSpec]) -> str | None:
    """Why the workload could not start even on an empty cluster, or None."""
    shapes = list(nodes)
    per_node = [_pods_per_node(w, n) for n in shapes]
    need = w.min_pods or w.pods
    if max(per_node, default=0) == 0:
        largest = max(shapes, key=lambda n: (n.gpus, n.gpu_memory_mib, n.cpu or 0, n.memory or 0))
        return f"a pod needs {_describe(w)}; it fits no node (largest: {_describe_node(largest)})"
    room = sum(fit * n.count for fit, n in zip(per_node, shapes, strict=True))
    if room < need:
        return (
            f"the gang needs {need} pods of {_describe(w)} at once; the whole empty cluster "
            f"holds at most {room}"
        )
    return None


def _describe(w: WorkloadSpec) -> str:
    if w.gpus is not None:
        parts = [f"{w.gpus} GPU(s) on one node"]
    elif w.gpu_fraction is not None:
        parts = [f"{w.gpu_fraction} of a GPU"]
    else:
        parts = [f"{w.gpu_memory_mib} MiB of one GPU's memory"]
    if w.cpu:
        parts.append(f"{Decimal(w.cpu) / 1000} CPU")
    if w.memory:
        parts.append(f"{w.memory} bytes of memory")
    return " + ".join(parts)


def _describe_node(n: NodeSpec) -> str:
    cpu = "undeclared" if n.cpu is None else f"{Decimal(n.cpu) / 1000}"
    memory = "undeclared" if n.memory is None else f"{n.memory} bytes"
    return f"{n.name}: {n.gpus} GPUs of {n.gpu_memory_mib} MiB, {cpu} CPU, memory {memory}"


# ----------------------------------------------------------------------- expectations


def _expectations(s: Scenario) -> Iterator[Problem]:
    projects = {p.name for p in s.projects}
    workloads = {w.name for w in s.workloads}
    for i, e in enumerate(s.expect):
        yield from (Problem(f"expect[{i}]{where}", why) for where, why in _expectation(e, s.until))
        refs = [*e.projects, *(e.evictions if isinstance(e.evictions, dict) else {})]
        for name in refs:
            if name not in projects:
                yield Problem(f"expect[{i}]", _missing("project", name, projects))
        for name in [*e.workloads, *e.evicted, *e.not_evicted]:
            if name not in workloads:
                yield Problem(f"expect[{i}]", f"workload {name!r} does not exist")


def _expectation(e: Expectation, until: int) -> Iterator[tuple[str, str]]:
    whens = [k for k in ("at", "between", "after") if getattr(e, k) is not None]
    if len(whens) != 1:
        yield "", f"give exactly one of at, between, after (got {' and '.join(whens) or 'none'})"
        return
    state = e.allocated_gpus, e.running, e.pending, e.projects or None, e.workloads or None
    window = e.evictions, e.evictions_by_type or None, e.evicted or None, e.not_evicted or None
    if e.at is not None:
        if e.at > until:
            yield ".at", f"{e.at} is after until {until}: it would never be checked"
        if any(v is not None for v in window):
            yield "", "eviction checks need a window (between or after), not at"
        if all(v is None for v in state):
            yield "", "checks nothing: give allocated_gpus, running, pending, projects or workloads"
        return
    if e.between is not None and e.between[0] > e.between[1]:
        yield ".between", f"the window {list(e.between)} ends before it starts"
    if any(v is not None for v in state):
        yield "", "state checks (allocated_gpus, running, pending, projects, workloads) need at"
    if all(v is None for v in window):
        yield "", "checks nothing: give evictions, evictions_by_type, evicted or not_evicted"
