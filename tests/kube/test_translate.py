"""Nodes and pods as the core reads them (DESIGN §1): a table of specs and what they mean."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.model import GpuRequest, NodeSelectorRequirement, WorkloadType
from scheduler.kube.translate import node_gpus, project_of, to_node, to_pod
from tests.kube.builders import node_obj, ns_obj, pod_obj


def _with(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    pod = pod_obj("p", gpus=None)
    pod["spec"].update(spec)
    pod["metadata"].update(extra)
    return pod


GPU_CASES = [
    ("whole GPUs come from limits", pod_obj("p", gpus=2), GpuRequest(whole=2)),
    (
        "a fraction comes from the gpu-fraction annotation",
        pod_obj("p", gpus=None, annotations={"gpu-fraction": "0.25"}),
        GpuRequest(fraction_milli=250),
    ),
    (
        "GPU memory comes from the gpu-memory annotation",
        pod_obj("p", gpus=None, annotations={"gpu-memory": "8000"}),
        GpuRequest(memory_mib=8000),
    ),
    ("no GPU at all is a CPU pod", pod_obj("p", gpus=None), GpuRequest()),
]


@pytest.mark.parametrize(("case", "pod", "want"), GPU_CASES, ids=[c[0] for c in GPU_CASES])
def test_gpu_requests(case: str, pod: dict[str, Any], want: GpuRequest) -> None:
    facts = to_pod(pod, None)
    assert facts.invalid_reason is None and facts.spec.gpu == want


INVALID = [
    (
        "a fraction and whole GPUs together",
        pod_obj("p", gpus=1, annotations={"gpu-fraction": "0.5"}),
        "not both",
    ),
    (
        "a fraction of 1 or more",
        pod_obj("p", gpus=None, annotations={"gpu-fraction": "1"}),
        "below 1",
    ),
    (
        "a fraction with more than 3 decimals",
        pod_obj("p", gpus=None, annotations={"gpu-fraction": "0.3333"}),
        "3 decimals",
    ),
    (
        "both fraction and memory annotations",
        pod_obj("p", gpus=None, annotations={"gpu-fraction": "0.5", "gpu-memory": "100"}),
        "give one",
    ),
    (
        "GPU memory that is not a number",
        pod_obj("p", gpus=None, annotations={"gpu-memory": "8Gi"}),
        "whole number of MiB",
    ),
    (
        "an unknown workload type",
        pod_obj("p", labels={"quotient.io/workload-type": "batch"}),
        "must be one of",
    ),
    (
        "a preemptible label that is not true/false",
        pod_obj("p", labels={"quotient.io/preemptible": "yes"}),
        '"true" or "false"',
    ),
    (
        "a gang size without a gang",
        pod_obj("p", annotations={"quotient.io/gang-size": "2"}),
        "name the gang",
    ),
    (
        "a gang size that is not a count",
        pod_obj("p", annotations={"quotient.io/gang": "g", "quotient.io/gang-size": "two"}),
        "whole number of pods",
    ),
    ("a CPU request that is not a quantity", pod_obj("p", cpu="lots"), "lots"),
    (
        "node affinity by matchFields",
        _with(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchFields": [
                                        {"key": "metadata.name", "operator": "In", "values": ["n"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }
        ),
        "matchFields",
    ),
]


@pytest.mark.parametrize(("case", "pod", "says"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_requests_get_a_reason_never_a_guess(
    case: str, pod: dict[str, Any], says: str
) -> None:
    reason = to_pod(pod, None).invalid_reason
    assert reason is not None and says in reason


PROJECTS = [
    (
        "the pod label wins",
        {"quotient.io/project": "p-label"},
        {"quotient.io/project": "ns"},
        "p-label",
    ),
    ("KAI's queue label is an alias", {"kai.scheduler/queue": "kai"}, {}, "kai"),
    ("Run:ai's queue label is an alias", {"runai/queue": "runai"}, {}, "runai"),
    ("else the namespace's label", {}, {"quotient.io/project": "from-ns"}, "from-ns"),
    ("else the namespace name", {}, {}, "team-a"),
]


@pytest.mark.parametrize(
    ("case", "pod_labels", "ns_labels", "want"), PROJECTS, ids=[c[0] for c in PROJECTS]
)
def test_project_resolution(
    case: str, pod_labels: dict[str, str], ns_labels: dict[str, str], want: str
) -> None:
    assert project_of(pod_obj("p", labels=pod_labels), ns_obj("team-a", ns_labels)) == want


def test_pod_fields_type_priority_gang_constraints_and_requests() -> None:
    pod = pod_obj(
        "p",
        labels={"quotient.io/workload-type": "interactive", "quotient.io/preemptible": "true"},
        annotations={"quotient.io/gang": "g", "quotient.io/gang-size": "3"},
        cpu="500m",
        priority=7,
        spec={
            "nodeSelector": {"pool": "a"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "zone", "operator": "In", "values": ["z1"]}
                                ]
                            }
                        ]
                    }
                }
            },
        },
    )
    facts = to_pod(pod, None)
    assert facts.key == "team-a/p" and facts.spec.name == "team-a/p"
    assert (facts.type, facts.preemptible, facts.priority) == (WorkloadType.INTERACTIVE, True, 7)
    assert (facts.gang, facts.gang_size, facts.spec.cpu_milli) == ("g", 3, 500)
    c = facts.constraints
    assert c.node_selector == {"pool": "a"} and c.tolerations[0].operator == "Exists"
    assert c.required_terms[0].match_expressions == (
        NodeSelectorRequirement("zone", "In", ("z1",)),
    )


NODES = [
    ("allocatable GPUs", {}, 8),
    ("time-slicing replicas are divided out", {"nvidia.com/gpu.replicas": "4"}, 2),
    ("a malformed replicas label counts as 1", {"nvidia.com/gpu.replicas": "x"}, 8),
]


@pytest.mark.parametrize(("case", "labels", "want"), NODES, ids=[c[0] for c in NODES])
def test_node_gpus(case: str, labels: dict[str, str], want: int) -> None:
    assert node_gpus({"nvidia.com/gpu": "8"}, labels) == want


def test_nodes_model_memory_pool_taints_and_schedulability() -> None:
    n = to_node(
        node_obj(
            "n",
            8,
            labels={"quotient.io/node-pool": "a100"},
            taints=[{"key": "gpu", "value": "x", "effect": "NoSchedule"}],
        )
    )
    assert (n.gpu_count, n.gpu_model, n.gpu_memory_mib, n.pool) == (8, "H100", 81920, "a100")
    assert n.taints[0].key == "gpu" and not n.unschedulable
    assert to_node(node_obj("c", unschedulable=True)).unschedulable, "cordoned takes no new pods"
    assert to_node(node_obj("d", ready=False)).unschedulable, "NotReady takes no new pods"
