"""The live cluster as a scenario document, so "what if we change this quota" replays offline.

Owns turning one `ClusterState` (nodes, our running and pending workloads) and a quota tree
into the scenario format of DESIGN §2 (a plain dict; the CLI validates it with the
simulator's own loader before printing it), and the quota tree to and from the JSON the
scheduler records in its status ConfigMap. Names become scenario names ("team-a/job-1" ->
"team-a.job-1"). What a scenario cannot say is left out and listed in `omitted`: pods of
other schedulers, cordoned nodes, invalid pods. It must not talk to the API.
"""

from __future__ import annotations

from typing import Any

from fairshare.model import DEFAULT_POOL, Node, Workload
from fairshare.quota_tree import QuotaTree
from fairshare.resources import format_gpus
from scheduler.kube.translate import MEMORY_LABEL, PRODUCT_LABEL
from scheduler.ports import ClusterState

DERIVED_LABELS = {"kubernetes.io/hostname", PRODUCT_LABEL, MEMORY_LABEL, "nvidia.com/gpu.count"}


def scenario_name(name: str) -> str:
    return name.replace("/", ".").replace("~", ".")


def tree_to_json(tree: QuotaTree) -> dict[str, Any]:
    """The inverse of `scheduler.api_client.tree_from_json` (GPUs as exact decimals)."""

    def opt(milli: int | None) -> str | None:
        return None if milli is None else format_gpus(milli)

    departments = [
        {"name": d.name, "parent": d.parent, "deserved_gpus": format_gpus(d.deserved_milli),
         "over_quota_weight": opt(d.over_quota_weight_milli), "limit_gpus": opt(d.limit_milli),
         "priority": d.priority}
        for _, d in sorted(tree.departments.items())
    ]  # fmt: skip
    projects = [
        {"name": p.name, "department": p.department, "deserved_gpus": format_gpus(p.deserved_milli),
         "over_quota_weight": opt(p.over_quota_weight_milli), "limit_gpus": opt(p.limit_milli),
         "priority": p.priority, "node_pools": list(p.node_pools),
         "max_interactive_seconds": p.max_interactive_seconds,
         "max_training_seconds": p.max_training_seconds}
        for _, p in sorted(tree.projects.items())
    ]  # fmt: skip
    return {"departments": departments, "projects": projects}


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v not in (None, [], {})}


def scenario(state: ClusterState, tree: QuotaTree, name: str = "snapshot") -> dict[str, Any]:
    omitted: list[str] = []
    nodes = []
    for n in state.nodes:
        if n.unschedulable:
            omitted.append(f"node {n.name} (cordoned or not ready)")
            continue
        nodes.append(_node(n))
    for usage in state.foreign:
        omitted.append(f"{usage.gpus} GPU(s) on {usage.node} held by other schedulers' pods")
    workloads = []
    for w in [r.workload for r in state.running if not r.terminating] + list(state.pending):
        entry = _workload(w)
        if entry is None:
            omitted.append(f"workload {w.name} ({w.invalid_reason or 'asks for no GPU'})")
        else:
            workloads.append(entry)
    quota = tree_to_json(tree)
    return {
        "name": name,
        "description": "Snapshot of a live cluster by `quotient snapshot`; left out: "
        + ("; ".join(omitted) if omitted else "nothing"),
        "cluster": {"nodes": nodes},
        "departments": [_clean(d) for d in quota["departments"]],
        "projects": [_clean(p) for p in quota["projects"]],
        "workloads": workloads,
        "until": 3600,
    }


def _node(n: Node) -> dict[str, Any]:
    labels = {k: v for k, v in n.labels.items() if k not in DERIVED_LABELS}
    if n.pool == DEFAULT_POOL:
        labels.pop("quotient.io/node-pool", None)
    return _clean({
        "name": n.name, "gpus": n.gpu_count, "gpu_memory_mib": n.gpu_memory_mib or None,
        "gpu_model": n.gpu_model or None, "labels": labels,
        "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in n.taints],
        "cpu": f"{n.cpu_milli}m" if n.cpu_milli else None,
        "memory": n.memory_bytes or None,
    })  # fmt: skip


def _workload(w: Workload) -> dict[str, Any] | None:
    if w.invalid_reason or not w.pods:
        return None
    pod = w.pods[0]
    ask: dict[str, Any]
    if pod.gpu.whole:
        ask = {"gpus": pod.gpu.whole}
    elif pod.gpu.fraction_milli:
        ask = {"gpu_fraction": format_gpus(pod.gpu.fraction_milli)}
    elif pod.gpu.memory_mib:
        ask = {"gpu_memory_mib": pod.gpu.memory_mib}
    else:
        return None
    c = w.constraints
    return _clean({
        "name": scenario_name(w.name), "project": w.project, **ask,
        "pods": len(w.pods) if len(w.pods) > 1 else None,
        "min_pods": w.min_pods or None, "type": str(w.type), "priority": w.priority or None,
        "preemptible": w.preemptible, "submit_at": 0,
        "node_selector": dict(c.node_selector),
        "tolerations": [{"key": t.key, "operator": t.operator, "value": t.value,
                         "effect": t.effect} for t in c.tolerations],
        "cpu": f"{pod.cpu_milli}m" if pod.cpu_milli else None,
        "memory": pod.memory_bytes or None,
    })  # fmt: skip
