"""The sharing modes as kube's translation applies them to whole node and pod objects: the
core sees physical GPUs, the sharing taint and MIG labels, and a MIG pod as its share."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.eligibility import node_admits
from fairshare.model import GpuRequest
from scheduler.kube.translate import to_node, to_pod
from tests.kube.builders import node_obj, pod_obj


def _node(gpus: int, labels: dict[str, str], **extra: str) -> dict[str, Any]:
    node = node_obj("n", gpus, product="NVIDIA-A100-SXM4-80GB", labels=labels)
    node["status"]["allocatable"].update(extra)
    return node


def _pod(limits: dict[str, str], selector: dict[str, str] | None = None, **notes: str) -> Any:
    pod = pod_obj("p", gpus=None, annotations=notes)
    pod["spec"]["containers"][0]["resources"] = {"limits": limits} if limits else {}
    if selector:
        pod["spec"]["nodeSelector"] = selector
    return to_pod(pod, None)


TIME_SLICED = _node(16, {"nvidia.com/gpu.replicas": "4"})
MIG_MIXED = _node(0, {"nvidia.com/mig.strategy": "mixed"}, **{"nvidia.com/mig-1g.10gb": "14"})
MIG_SINGLE = _node(
    56,
    {
        "nvidia.com/mig.strategy": "single",
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb",
    },
)
PLAIN = _node(8, {})

CASES = [
    pytest.param(
        PLAIN,
        _pod({"nvidia.com/gpu": "2"}),
        8,
        True,
        GpuRequest(whole=2),
        id="a whole-GPU pod on a plain node",
    ),
    pytest.param(
        TIME_SLICED,
        _pod({"nvidia.com/gpu": "1"}),
        4,
        False,
        GpuRequest(whole=1),
        id="16 replicas are 4 GPUs, and no whole-GPU pod goes there",
    ),
    pytest.param(
        TIME_SLICED,
        _pod({}, **{"gpu-fraction": "0.5"}),
        4,
        True,
        GpuRequest(fraction_milli=500),
        id="a fraction may share a time-sliced GPU",
    ),
    pytest.param(
        MIG_MIXED,
        _pod({"nvidia.com/mig-1g.10gb": "1"}),
        2,
        True,
        GpuRequest(fraction_milli=142),
        id="a 1g.10gb pod on a mixed node: 1/7",
    ),
    pytest.param(
        MIG_MIXED,
        _pod({"nvidia.com/mig-3g.40gb": "1"}),
        2,
        False,
        GpuRequest(fraction_milli=428),
        id="a profile the node does not serve",
    ),
    pytest.param(
        MIG_SINGLE,
        _pod(
            {"nvidia.com/gpu": "1"}, {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"}
        ),
        8,
        True,
        GpuRequest(fraction_milli=142),
        id="a single-strategy slice: 56 slices are 8 GPUs",
    ),
    pytest.param(
        MIG_SINGLE,
        _pod({"nvidia.com/gpu": "1"}),
        8,
        False,
        GpuRequest(whole=1),
        id="a whole-GPU pod never lands on a MIG slice",
    ),
    pytest.param(
        PLAIN,
        _pod({"nvidia.com/mig-1g.10gb": "1"}),
        8,
        False,
        GpuRequest(fraction_milli=142),
        id="a MIG pod never lands on a plain node",
    ),
]


@pytest.mark.parametrize(("node_obj_", "facts", "gpus", "admits", "gpu"), CASES)
def test_translation_applies_the_sharing_mode(
    node_obj_: dict[str, Any], facts: Any, gpus: int, admits: bool, gpu: GpuRequest
) -> None:
    node = to_node(node_obj_)
    assert facts.invalid_reason is None
    assert node.gpu_count == gpus and facts.spec.gpu == gpu
    assert (node_admits(node, facts.constraints, ()) is None) is admits


def test_a_fraction_and_a_mig_slice_together_are_invalid() -> None:
    facts = _pod({"nvidia.com/mig-1g.10gb": "1"}, **{"gpu-fraction": "0.5"})
    assert facts.invalid_reason is not None and "MIG" in facts.invalid_reason
