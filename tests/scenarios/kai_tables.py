"""KAI-Scheduler's action-test tables, read as data and translated into Quotient's model.

Owns the translation of one KAI case (nodes, queues, departments, jobs with their tasks, the
expected state of each job) into a `fairshare.model.Snapshot` and the Policy that stands for
the KAI action under test; `kai_checks` holds the plan against the expected outcomes. It must
not decide anything itself: every outcome comes from `fairshare.decide`.

What KAI's test builder implies, kept here so each table stays a faithful copy of KAI's:
- a queue's priority tier counts from KAI's default 100 (Quotient's tier 0);
- a queue's over-quota weight is what the test sets (0 when unset), `MaxAllowedGPUs` 0 means
  no limit, a department's weight is its deserved quota; without departments the queues sit
  at the top of the tree (KAI's default department has no quota and no limit);
- a job is a gang of all its tasks; it is preemptible when the test says so or its priority
  is below 100 (KAI's `CalculatePreemptibility`); KAI's `minAvailable` becomes `min_pods`,
  though Quotient places and evicts a workload's pods together (no elastic growth);
- jobs are created one minute apart in order of priority (highest first), then list order,
  unless `age_minutes` is given; running jobs count as started then (KAI's tests give every
  running job the same start time, so creation order is the only recency they express);
- every task asks 1 CPU and 1 GB unless best effort; nodes have 20 CPUs, 20 GB and GPUs of
  100 MiB unless set (so `gpu_memory: 40` is 0.4 of a GPU, as in KAI).

Expected outcomes, as KAI states them after one action: `running`/`binding` (a pending job is
bound, a running one is left alone), `pipelined` (a pending job waits for victims the plan
evicts; a running job is moved, so evicted for re-placement), `releasing` (evicted), `pending`
(a pending job neither bound nor waiting on victims). `NODE` after the state pins the node;
`#G` names a shared GPU: pods naming the same G must share one physical GPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from fairshare.model import (
    GpuRequest,
    Node,
    PodAssignment,
    PodSpec,
    Policy,
    RunningWorkload,
    Snapshot,
    Workload,
    WorkloadType,
)
from fairshare.quota_tree import Department, Project, QuotaTree
from fairshare.resources import gpus_to_milli

TABLES = Path(__file__).parent / "kai"
NOW = 1_000_000  # seconds; KAI's creation times are minutes before "now"
NODE_CPU_MILLI, NODE_MEMORY, NODE_GPU_MEMORY_MIB = 20_000, 20 * 10**9, 100
POD_CPU_MILLI, POD_MEMORY = 1_000, 10**9
NON_PREEMPTIBLE_PRIORITY = 100
KAI_DEFAULT_QUEUE_PRIORITY = 100  # a KAI queue without a priority; Quotient's tier 0

# The KAI action under test, as Quotient's policy flags. Quotient always allocates first;
# consolidation (moving pods to make a block) belongs to its reclaim step.
POLICIES = {
    "allocate": Policy(reclaim=False, preempt=False),
    "reclaim": Policy(reclaim=True, preempt=False),
    "preempt": Policy(reclaim=False, preempt=True),
    "consolidation": Policy(reclaim=True, preempt=False),
    "cycle": Policy(),  # KAI's integration tests: every action, round after round
}


class NotPortable(ValueError):
    """A KAI construct Quotient's model has no counterpart for."""


@dataclass(frozen=True)
class Outcome:
    state: str  # running | binding | pipelined | releasing | pending
    node: str | None = None
    group: str | None = None

    @staticmethod
    def parse(text: str) -> Outcome:
        words = text.split()
        state, _, group = words[0].partition("#")
        rest = [w for w in words[1:] if not w.startswith("accepted=")]
        where = rest[0] if rest else ("#" + group if group else "")
        node, _, group = where.partition("#")
        return Outcome(state, node or None, group or None)


@dataclass(frozen=True)
class KaiCase:
    file: str
    id: str
    action: str
    raw: Mapping[str, Any]
    expect: Mapping[str, Outcome] = field(default_factory=dict)  # job -> outcome
    expect_tasks: Mapping[str, Outcome] = field(default_factory=dict)  # pod -> outcome
    differs: str | None = None
    xfail: str | None = None
    not_ported: str | None = None
    ignore: tuple[str, ...] = ()  # expected pods KAI's own table names wrongly (KAI skips them)

    def as_kai_expects(self) -> KaiCase:
        """The same case held to KAI's own expected outcomes, without Quotient's."""
        kai = dict(self.raw, quotient=None, quotient_tasks=None, differs=None)
        return replace(_case(self.file, self.action, kai), differs=None)

    @property
    def settled(self) -> bool:
        """KAI checks the state its rounds settle in, not one action's plan."""
        return self.action == "cycle"

    @property
    def policy(self) -> Policy:
        nodes = (self.raw.get("placement") or {}).get("nodes", "binpack")
        return replace(POLICIES[self.action], placement=nodes)


@cache
def load_all() -> tuple[KaiCase, ...]:
    """Every case of every table, read once (libyaml's loader where built: ten times faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: list[KaiCase] = []
    for path in sorted(TABLES.glob("*.yaml")):
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        out += [_case(path.stem, doc["action"], c) for c in doc["cases"]]
    return tuple(out)


def _case(file: str, action: str, c: Mapping[str, Any]) -> KaiCase:
    """KAI's expectations, with Quotient's own where the table says it deliberately differs."""
    jobs = {**(c.get("expect") or {}), **(c.get("quotient") or {})}
    if any(j.get("deleted") and "releasing" not in str(j["tasks"]) for j in c.get("jobs") or []):
        raise ValueError(f"{file}: {c['id']}: a deleted job must be releasing from the start")
    tasks = {**(c.get("expect_tasks") or {}), **(c.get("quotient_tasks") or {})}
    if bool(c.get("quotient") or c.get("quotient_tasks")) != bool(c.get("differs")):
        raise ValueError(f"{file}: {c['id']}: a Quotient outcome needs its one-line `differs`")
    return KaiCase(
        file,
        c["id"],
        action,
        c,
        {k: Outcome.parse(v) for k, v in jobs.items()},
        {k: Outcome.parse(v) for k, v in tasks.items()},
        c.get("differs"),
        c.get("xfail"),
        c.get("not_ported"),
        tuple(c.get("ignore") or ()),
    )


# ------------------------------------------------------------------------ translation


def build(case: KaiCase) -> Snapshot:
    raw = case.raw
    nodes = tuple(_node(n, spec) for n, spec in sorted(raw["nodes"].items()))
    total = sum(n.gpu_count for n in nodes)
    quota = _tree(raw.get("queues") or [], raw.get("departments") or [], total)
    gpus = _GpuBook({n.name: n for n in nodes})
    running: list[RunningWorkload] = []
    pending: list[Workload] = []
    for j, submit in _creation_times(raw.get("jobs") or []):
        w = _workload(j, submit)
        states = {_task_state(t) for t in j["tasks"]}
        if states == {"pending"}:
            pending.append(w)
        elif "pending" not in states and states <= {"running", "releasing"}:
            running.append(
                RunningWorkload(w, gpus.assign(w, j["tasks"]), submit, states == {"releasing"})
            )
        else:
            raise NotPortable(f"job {j['name']} has tasks in states {sorted(states)}")
    return Snapshot(nodes, quota, tuple(running), tuple(pending), (), NOW)


def _node(name: str, spec: Mapping[str, Any]) -> Node:
    if set(spec) - {"gpus", "gpumemory", "cpumillis", "cpumemory"}:
        raise NotPortable(f"node {name} uses {sorted(set(spec) - {'gpus'})}")
    return Node(
        name,
        spec.get("gpus", 0),
        spec.get("gpumemory", NODE_GPU_MEMORY_MIB),
        "",
        int(spec.get("cpumillis", NODE_CPU_MILLI)),
        int(spec.get("cpumemory", NODE_MEMORY)),
    )


def _limit(value: float | None) -> int | None:
    return None if not value or value < 0 else gpus_to_milli(value)


def _deserved(value: float, total: int) -> int:
    """KAI's -1 ("no quota set") deserves the whole cluster."""
    return gpus_to_milli(total if value < 0 else value)


def _tree(
    queues: list[Mapping[str, Any]], departments: list[Mapping[str, Any]], total: int
) -> QuotaTree:
    for q in queues:
        extra = set(q) & {"deserved_cpu", "deserved_memory", "limit_cpu", "limit_memory"}
        if extra:
            raise NotPortable(f"queue {q['name']} has CPU/memory quota {sorted(extra)}")
    names = {d["name"] for d in departments}
    projects = [
        Project(
            q["name"],
            _deserved(q.get("deserved", 0), total),
            gpus_to_milli(q.get("weight", 0)),
            _limit(q.get("limit")),
            q.get("priority", KAI_DEFAULT_QUEUE_PRIORITY) - KAI_DEFAULT_QUEUE_PRIORITY,
            q["parent"] if q.get("parent") in names else None,
        )
        for q in queues
        if q["name"] not in names
    ]
    depts = [
        Department(
            d["name"],
            _deserved(d.get("deserved", 0), total),
            _deserved(d.get("deserved", 0), total),
            _limit(d.get("limit")),
        )
        for d in departments
    ]
    return QuotaTree.build(projects, depts)


def _creation_times(jobs: list[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], int]]:
    ordered = sorted(jobs, key=lambda j: -j["priority"])  # stable, as KAI's builder sorts
    for index, j in enumerate(ordered):
        minutes = j.get("age_minutes") or len(ordered) - index
        yield j, NOW - 60 * minutes


def _task_state(t: str | Mapping[str, Any]) -> str:
    text = t if isinstance(t, str) else str(t["at"])
    if text == "pending":
        return "pending"
    first = text.split()[0]
    return first if first in {"releasing", "pipelined", "bound", "allocated"} else "running"


def _request(j: Mapping[str, Any], task: str | Mapping[str, Any]) -> GpuRequest:
    if isinstance(task, Mapping) and "gpus" in task:
        return GpuRequest(whole=int(task["gpus"]))
    if j.get("gpu_memory"):
        return GpuRequest(memory_mib=int(j["gpu_memory"]))
    g = j.get("gpus", 0)
    if g == int(g):
        return GpuRequest(whole=int(g))
    if g > 1:
        raise NotPortable(f"job {j['name']} asks {g} GPUs per task (multi-GPU fractions)")
    return GpuRequest(fraction_milli=gpus_to_milli(g))


def _workload(j: Mapping[str, Any], submit: int) -> Workload:
    if set(j) - {
        "name",
        "queue",
        "gpus",
        "gpu_memory",
        "priority",
        "tasks",
        "age_minutes",
        "memory",
        "preemptibility",
        "best_effort",
        "subgroups",
        "deleted",  # already releasing: KAI keeps it so; Quotient keeps it terminating
    }:
        raise NotPortable(f"job {j['name']} uses {sorted(j)}")
    # A task's `priority` is KAI's order of pods inside a gang; Quotient places them by name.
    if any(isinstance(t, Mapping) and set(t) - {"at", "gpus", "priority"} for t in j["tasks"]):
        raise NotPortable(f"job {j['name']} has per-task node affinities")
    cpu, mem = (0, 0) if j.get("best_effort") else (POD_CPU_MILLI, int(j.get("memory", POD_MEMORY)))
    pods = tuple(
        PodSpec(f"{j['name']}-{i}", _request(j, t), cpu, mem) for i, t in enumerate(j["tasks"])
    )
    explicit = j.get("preemptibility")
    preemptible = (
        explicit == "Preemptible" if explicit else j["priority"] < NON_PREEMPTIBLE_PRIORITY
    )
    kind = WorkloadType.TRAIN if preemptible else WorkloadType.INTERACTIVE
    minimum = (j.get("subgroups") or {}).get("min_available", 0)  # an elastic gang's minimum
    return Workload(j["name"], j["queue"], pods, minimum, kind, preemptible, j["priority"], submit)


class _GpuBook:
    """Gives running pods concrete GPU indices: whole GPUs in order, shared groups once."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self.nodes = nodes
        self.used: dict[str, set[int]] = {n: set() for n in nodes}
        self.groups: dict[tuple[str, str], int] = {}
        self.load: dict[tuple[str, int], int] = {}  # fraction milli on each shared GPU

    def _free(self, node: str, count: int, want: str = "") -> tuple[int, ...]:
        free = [i for i in range(self.nodes[node].gpu_count) if i not in self.used[node]]
        if want.isdigit() and int(want) in free:  # KAI's group names are often GPU indices
            free.insert(0, free.pop(free.index(int(want))))
        if len(free) < count:
            raise ValueError(f"node {node} has no room for {count} more GPUs")
        self.used[node].update(free[:count])
        return tuple(free[:count])

    def _shared(self, node: str, group: str, milli: int) -> int:
        """The GPU of a named group; an unnamed fraction gets a GPU of its own while one is
        idle (as KAI's builder does), else shares one with room (KAI does not check room)."""
        key = (node, group)
        if key not in self.groups:
            if len(self.used[node]) < self.nodes[node].gpu_count:
                self.groups[key] = self._free(node, 1, group)[0]
            else:
                self.groups[key] = next(
                    i
                    for i in sorted(self.used[node])
                    if self.load.get((node, i), 0) + milli <= 1000
                )
        i = self.groups[key]
        self.load[(node, i)] = self.load.get((node, i), 0) + milli
        return i

    def assign(
        self, w: Workload, tasks: list[str | Mapping[str, Any]]
    ) -> tuple[PodAssignment, ...]:
        out = []
        for pod, t in zip(w.pods, tasks, strict=True):
            where = (t if isinstance(t, str) else str(t["at"])).split()[-1]
            node, _, group = where.partition("#")
            if node not in self.nodes:
                raise NotPortable(f"task {pod.name} runs on unknown node {node!r}")
            mem = self.nodes[node].gpu_memory_mib
            if pod.gpu.is_fractional:
                idx: tuple[int, ...] = (
                    self._shared(node, group or pod.name, pod.gpu.milli_on(mem)),
                )
                limit = pod.gpu.memory_mib or pod.gpu.fraction_milli * mem // 1000
            else:
                idx, limit = self._free(node, pod.gpu.whole), None
                self.load.update({(node, i): 1000 for i in idx})
            out.append(
                PodAssignment(
                    pod.name,
                    node,
                    idx,
                    pod.gpu.milli_on(mem),
                    limit,
                    pod.cpu_milli,
                    pod.memory_bytes,
                )
            )
        return tuple(out)
