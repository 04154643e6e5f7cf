"""`quotient explain NAMESPACE/POD`: why a pod waits, in words, from what the scheduler wrote.

Owns reading one pod, its namespace and the scheduler's status ConfigMap, and saying: where
the pod is (bound to which node and GPU, or pending), the reason and message the core gave
it (its PodScheduled condition, which says what would have to change), its request and
project as Quotient reads them, and that project's deserved, fair share and allocated GPUs.
It must not decide anything itself.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scheduler.kube.config import done
from scheduler.kube.run import STATUS_CONFIGMAP
from scheduler.kube.state import UUID_NOTE
from scheduler.kube.translate import Obj, to_pod


class ExplainError(RuntimeError):
    pass


def _read(call: Any, *args: Any) -> Obj | None:
    try:
        data: Obj = json.loads(done(call(*args, _preload_content=False, _request_timeout=10)))
        return data
    except ApiException as e:
        if e.status == 404:
            return None
        raise ExplainError(f"the API answered {e.status} {e.reason}") from None


def explain(api: client.ApiClient, target: str, namespace: str = "quotient-system") -> list[str]:
    if target.count("/") != 1:
        raise ExplainError(f"expected NAMESPACE/POD, got {target!r}")
    ns, name = target.split("/")
    core: Any = client.CoreV1Api(api)
    pod = _read(core.read_namespaced_pod, name, ns)
    if pod is None:
        raise ExplainError(f"pod {target} not found")
    facts = to_pod(pod, _read(core.read_namespace, ns))
    lines = [f"pod {target}: project {facts.project}, asks {_ask(facts.spec.gpu)}"]
    if facts.invalid_reason:
        lines.append(f"  InvalidRequest: {facts.invalid_reason}")
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        gpu = (pod["metadata"].get("annotations") or {}).get(UUID_NOTE)
        lines.append(f"  bound to {node}" + (f", GPU {gpu}" if gpu else ""))
    else:
        lines.append("  " + _condition(pod))
    status = _read(core.read_namespaced_config_map, STATUS_CONFIGMAP, namespace)
    lines.append("  " + _project_line(status, facts.project))
    return lines


def _ask(gpu: Any) -> str:
    if gpu.whole:
        return f"{gpu.whole} whole GPU(s)"
    if gpu.fraction_milli:
        return f"{gpu.fraction_milli / 1000:g} of one GPU"
    if gpu.memory_mib:
        return f"{gpu.memory_mib} MiB of one GPU"
    return "no GPU"


def _condition(pod: Obj) -> str:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return f"pending: {c.get('reason')}: {c.get('message')}"
    return "pending: the scheduler has not looked at it yet (is `quotient run` running?)"


def _project_line(status: Obj | None, project: str) -> str:
    if status is None:
        return f"project {project}: no status yet ({STATUS_CONFIGMAP} ConfigMap not found)"
    projects = json.loads((status.get("data") or {}).get("projects.json") or "{}")
    s = projects.get(project)
    if s is None:
        return f"project {project}: not in the quota tree (the pod waits with ProjectNotFound)"
    return (f"project {project}: deserved {s['deserved_gpus']}, fair share "
            f"{s['fair_share_gpus']}, allocated {s['allocated_gpus']} GPUs; "
            f"{s['running']} running, {s['pending']} pending")  # fmt: skip


def recorded_quota(api: client.ApiClient, namespace: str) -> dict[str, Any] | None:
    """The quota tree (as JSON) the scheduler last recorded in its status ConfigMap."""
    core: Any = client.CoreV1Api(api)
    status = _read(core.read_namespaced_config_map, STATUS_CONFIGMAP, namespace)
    text = ((status or {}).get("data") or {}).get("quota.json")
    if not text:
        return None
    data: dict[str, Any] = json.loads(text)
    return data or None
