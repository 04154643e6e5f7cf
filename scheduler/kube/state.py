"""The watched objects -> one `ClusterState`, and which reservation is which shared GPU.

Owns sorting pods into what the core needs: our pods pending (grouped into workloads by gang)
or running (bound, or with a bind in flight), terminating pods keeping their GPUs until they
are gone, other schedulers' pods as foreign usage on their node, and the reservation pods of
fractional GPUs. GPU indices on a node are virtual and renumbered on every read, the same
way each time: foreign GPUs (and empty reservations, which still hold a device) first, then
each shared GPU (one reservation), then whole-GPU pods; `GpuMap` tells the executor which
reservation a (node, index) the core chose is. It must not do I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from fairshare.model import (
    ForeignUsage,
    Node,
    PodAssignment,
    RunningWorkload,
    Workload,
)
from fairshare.resources import MILLI_PER_GPU
from scheduler.kube import sharing
from scheduler.kube.translate import Obj, PodFacts, requests_of, seconds
from scheduler.ports import ClusterState

RESERVATION_LABEL = "quotient.io/reservation"
RESERVATION_NOTE = "quotient.io/gpu-reservation"  # on a fractional pod: its reservation pod
UUID_NOTE = "quotient.io/gpu-uuid"


@dataclass(frozen=True)
class InFlight:
    """A bind submitted but not yet seen in the watch: the pod is treated as bound."""

    node: str
    reservation: str | None = None  # "namespace/name" of the reservation, for fractions
    done_at: float | None = None  # when the bind succeeded (monotonic); None: still binding


@dataclass(frozen=True)
class GpuMap:
    shared: Mapping[tuple[str, int], str] = field(default_factory=dict)  # -> reservation key
    reservations: Mapping[str, Obj] = field(default_factory=dict)  # key -> reservation pod
    users: Mapping[str, int] = field(default_factory=dict)  # reservation key -> fractional pods
    workload_pods: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    uids: Mapping[str, str] = field(default_factory=dict)  # pending pod -> uid, as decided on


@dataclass
class Inputs:
    nodes: list[Node]
    pods: list[Obj]
    facts: Callable[[Obj], PodFacts]
    scheduler_name: str
    namespace: str  # the scheduler's: where reservations live
    in_flight: Mapping[str, InFlight]
    protected: frozenset[str] = frozenset()  # pods a PDB refused to let go, for a while


Held = tuple[PodFacts, str, str | None, bool, int]  # facts, node, reservation, terminating, start


@dataclass
class _Sorted:
    foreign: dict[str, list[int]] = field(default_factory=dict)  # node -> [gpus, cpu, mem]
    reservations: dict[str, Obj] = field(default_factory=dict)
    running: list[Held] = field(default_factory=list)
    pending: list[PodFacts] = field(default_factory=list)
    uids: dict[str, str] = field(default_factory=dict)


def build(inp: Inputs) -> tuple[ClusterState, GpuMap]:
    node_names = {n.name for n in inp.nodes}
    out = _Sorted()
    for pod in inp.pods:
        _sort(inp, pod, out)
    out.running = _group_mig(out.running)
    shared, users, first_whole = _number_shared(out.running, out.reservations, out.foreign)
    assignments = _assign(inp.nodes, out.running, shared, first_whole)
    held = _running(out.running, assignments, inp.protected)
    foreign = out.foreign
    state = ClusterState(
        nodes=tuple(inp.nodes),
        running=held,
        pending=tuple(_group(out.pending, {r.workload.name for r in held})),
        foreign=tuple(ForeignUsage(n, *foreign[n]) for n in sorted(foreign) if n in node_names),
    )
    gpu_map = GpuMap(
        shared={(n, i): r for r, (n, i) in shared.items()},
        reservations=out.reservations,
        users=users,
        workload_pods={w.name: tuple(p.name for p in w.pods) for w in state.pending},
        uids=out.uids,
    )
    return state, gpu_map


def _sort(inp: Inputs, pod: Obj, out: _Sorted) -> None:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return  # a finished pod holds nothing
    key = f"{meta.get('namespace')}/{meta['name']}"
    labels = meta.get("labels") or {}
    if labels.get(RESERVATION_LABEL) == "true" and meta.get("namespace") == inp.namespace:
        out.reservations[key] = pod
        return
    flight = inp.in_flight.get(key)
    node = spec.get("nodeName") or (flight.node if flight else None)
    if spec.get("schedulerName") != inp.scheduler_name:
        if node:
            _add_foreign(out.foreign, node, pod)
        return
    terminating = bool(meta.get("deletionTimestamp"))
    if node:
        where = (meta.get("annotations") or {}).get(RESERVATION_NOTE) or (
            flight.reservation if flight else None
        )
        started = seconds((pod.get("status") or {}).get("startTime")) or seconds(
            meta.get("creationTimestamp")
        )
        out.running.append((inp.facts(pod), node, where, terminating, started))
    elif not terminating:
        out.pending.append(inp.facts(pod))
        out.uids[key] = str(meta.get("uid", ""))


def _group_mig(running: list[Held]) -> list[Held]:
    """MIG pods have no reservation: give each a GPU group of its node so that the slices
    the device plugin handed out fill the core's GPUs one by one (sharing.pack_slices)."""
    groups = sharing.pack_slices([
        (f.key, node, f.spec.gpu.fraction_milli)
        for f, node, where, _, _ in running
        if where is None and f.spec.gpu.fraction_milli and sharing.is_mig(f.constraints)
    ])  # fmt: skip
    return [(f, n, groups.get(f.key, w), t, s) for f, n, w, t, s in running]


def _add_foreign(foreign: dict[str, list[int]], node: str, pod: Obj) -> None:
    spec = pod.get("spec") or {}
    gpus = sharing.foreign_gpus(spec)  # whole GPUs, and the GPUs MIG slices occupy
    try:
        cpu, mem = requests_of(spec)
    except ValueError:
        cpu, mem = 0, 0
    usage = foreign.setdefault(node, [0, 0, 0])
    usage[0] += gpus
    usage[1] += cpu
    usage[2] += mem


def _number_shared(
    running: list[Held],
    reservations: Mapping[str, Obj],
    foreign: dict[str, list[int]],
) -> tuple[dict[str, tuple[str, int]], dict[str, int], dict[str, int]]:
    """Shared GPUs get indices after the node's foreign GPUs; an empty reservation still
    holds a device, so it is counted as foreign until it is deleted."""
    users: dict[str, int] = {}
    for facts, _, where, _, _ in running:
        if facts.spec.gpu.is_fractional and where:
            users[where] = users.get(where, 0) + 1
    for key in list(users):
        if key not in reservations:
            users.pop(key)  # a fraction whose reservation is gone shares a ghost GPU below
    shared: dict[str, tuple[str, int]] = {}
    for key, pod in sorted(reservations.items()):
        node = (pod.get("spec") or {}).get("nodeName")
        if node and key not in users:
            foreign.setdefault(node, [0, 0, 0])[0] += 1
    next_index = {node: usage[0] for node, usage in foreign.items()}
    for key in sorted(users):
        node = reservations[key]["spec"]["nodeName"]
        index = next_index.get(node, 0)
        shared[key] = (node, index)
        next_index[node] = index + 1
    return shared, users, next_index


def _assign(
    nodes: list[Node],
    running: list[Held],
    shared: Mapping[str, tuple[str, int]],
    first_whole: Mapping[str, int],
) -> dict[str, PodAssignment]:
    memory = {n.name: n.gpu_memory_mib for n in nodes}
    first_free = dict(first_whole)
    ghosts: dict[tuple[str, str], int] = {}
    out: dict[str, PodAssignment] = {}
    for facts, node, where, _, _ in sorted(running, key=lambda r: r[0].key):
        gpu, spec = facts.spec.gpu, facts.spec
        milli = gpu.milli_on(memory.get(node, 0))
        if gpu.is_fractional:
            if where is not None and where in shared:
                index = shared[where][1]
            else:  # its reservation is gone: it still shares one device with its peers
                ghost = (node, where or "")
                if ghost not in ghosts:
                    ghosts[ghost] = first_free.get(node, 0)
                    first_free[node] = ghosts[ghost] + 1
                index = ghosts[ghost]
            indices: tuple[int, ...] = (index,)
        else:
            start = first_free.get(node, 0)
            indices = tuple(range(start, start + gpu.whole))
            first_free[node] = start + gpu.whole
        limit = gpu.memory_mib or (milli * memory.get(node, 0) // MILLI_PER_GPU)
        out[facts.key] = PodAssignment(
            pod=facts.key,
            node=node,
            gpu_indices=indices,
            gpu_milli=milli,
            gpu_memory_limit_mib=limit if gpu.is_fractional else None,
            cpu_milli=spec.cpu_milli,
            memory_bytes=spec.memory_bytes,
        )
    return out


def _running(
    running: list[Held],
    assignments: Mapping[str, PodAssignment],
    protected: frozenset[str],
) -> tuple[RunningWorkload, ...]:
    by_workload: dict[tuple[str, bool], list[tuple[PodFacts, int]]] = {}
    for facts, _, _, terminating, started in running:
        by_workload.setdefault((_workload_name(facts), terminating), []).append((facts, started))
    out = []
    for (name, terminating), members in sorted(by_workload.items()):
        workload = _workload(
            name + ("~terminating" if terminating else ""), [f for f, _ in members]
        )
        if any(f.key in protected for f, _ in members):
            workload = replace(workload, preemptible=False)  # a PDB said no: spare it a while
        out.append(
            RunningWorkload(
                workload,
                tuple(assignments[f.key] for f, _ in members),
                started_at=min(s for _, s in members),
                terminating=terminating,
            )
        )
    return tuple(out)


def _workload_name(facts: PodFacts) -> str:
    return f"{facts.namespace}/{facts.gang}" if facts.gang else facts.key


def _group(pending: list[PodFacts], running: set[str]) -> list[Workload]:
    groups: dict[str, list[PodFacts]] = {}
    for facts in pending:
        groups.setdefault(_workload_name(facts), []).append(facts)
    workloads = []
    for name, members in groups.items():
        w = _workload(name, members)
        if name in running:  # the rest of a gang that already runs: those pods go together
            w = replace(w, name=f"{name}~rest", min_pods=0)
        workloads.append(w)
    return sorted(workloads, key=lambda w: (w.submit_time, w.name))


def _workload(name: str, members: list[PodFacts]) -> Workload:
    members = sorted(members, key=lambda f: f.key)
    first = members[0]
    invalid = next((f"{f.key}: {f.invalid_reason}" for f in members if f.invalid_reason), None)
    projects = sorted({f.project for f in members})
    if invalid is None and len(projects) > 1:
        invalid = f"gang {name} mixes projects {', '.join(projects)}; one gang, one project"
    return Workload(
        name=name,
        project=first.project,
        pods=tuple(f.spec for f in members),
        min_pods=first.gang_size if first.gang else 0,
        type=first.type,
        preemptible=first.preemptible,
        priority=max(f.priority for f in members),
        submit_time=min(f.submit_time for f in members),
        constraints=first.constraints,
        invalid_reason=invalid,
    )
