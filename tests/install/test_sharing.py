"""GPU sharing modes as GFD and the device plugin label them, read in core terms: how many
physical GPUs quota counts, which pods may go there, and what a MIG slice costs."""

from __future__ import annotations

import re

import pytest

from fairshare.eligibility import node_admits
from fairshare.model import (
    Constraints,
    GpuRequest,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Taint,
)
from fairshare.resources import MILLI_PER_GPU
from scheduler.kube import sharing
from scheduler.kube.sharing import MigRequest, Mode, node_gpus, read_node

A100_80 = "NVIDIA-A100-SXM4-80GB"

NODES = [
    pytest.param(
        {"nvidia.com/gpu": "8"},
        {"nvidia.com/mig.strategy": "mixed", "nvidia.com/gpu.product": A100_80},
        Mode.EXCLUSIVE,
        8,
        {},
        id="a node labelled mixed but advertising no slice has whole GPUs",
    ),
    pytest.param(
        {"nvidia.com/gpu": "8"},
        {
            "nvidia.com/mig.strategy": "single",
            "nvidia.com/mig.config": "all-1g.10gb",
            "nvidia.com/mig.config.state": "pending",
            "nvidia.com/gpu.product": A100_80,
        },
        Mode.EXCLUSIVE,
        8,
        {},
        id="a MIG configuration not applied yet leaves whole GPUs",
    ),
    pytest.param(
        {"nvidia.com/gpu": "8"},
        {"nvidia.com/gpu.product": A100_80},
        Mode.EXCLUSIVE,
        8,
        {},
        id="a plain node: every device is a whole GPU",
    ),
    pytest.param(
        {"nvidia.com/gpu": "32"},
        {
            "nvidia.com/gpu.replicas": "4",
            "nvidia.com/gpu.sharing-strategy": "time-slicing",
            "nvidia.com/gpu.product": "Tesla-T4-SHARED",
        },
        Mode.TIME_SLICING,
        8,
        {},
        id="time-slicing with 4 replicas: 32 devices are 8 physical GPUs",
    ),
    pytest.param(
        {"nvidia.com/gpu": "8"},
        {"nvidia.com/gpu.replicas": "2", "nvidia.com/gpu.sharing-strategy": "mps"},
        Mode.MPS,
        4,
        {},
        id="MPS with 2 replicas: 8 devices are 4 physical GPUs",
    ),
    pytest.param(
        {"nvidia.com/gpu": "56"},
        {
            "nvidia.com/mig.strategy": "single",
            "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb",
            "nvidia.com/gpu.memory": "9728",
        },
        Mode.MIG_SINGLE,
        8,
        {"quotient.io/mig-1g.10gb": "56"},
        id="MIG single, 56 slices of 1g.10gb on 8 A100 80GB",
    ),
    pytest.param(
        {"nvidia.com/gpu": "16"},
        {
            "nvidia.com/mig.strategy": "single",
            "nvidia.com/mig.config": "all-3g.40gb",
            "nvidia.com/mig.config.state": "success",
            "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb",
        },
        Mode.MIG_SINGLE,
        8,
        {"quotient.io/mig-3g.40gb": "16"},
        id="MIG single, 16 slices of 3g.40gb (2 per GPU) on 8 H100",
    ),
    pytest.param(
        {"nvidia.com/gpu": "0", "nvidia.com/mig-1g.10gb": "14", "nvidia.com/mig-3g.40gb": "4"},
        {
            "nvidia.com/mig.strategy": "mixed",
            "nvidia.com/gpu.product": A100_80,
            "nvidia.com/gpu.count": "4",
        },
        Mode.MIG_MIXED,
        4,
        {"quotient.io/mig-1g.10gb": "14", "quotient.io/mig-3g.40gb": "4"},
        id="MIG mixed, two GPUs of 1g.10gb and two of 3g.40gb",
    ),
    pytest.param(
        {"nvidia.com/gpu": "2", "nvidia.com/mig-1g.10gb": "7"},
        {
            "nvidia.com/mig.strategy": "mixed",
            "nvidia.com/gpu.product": A100_80,
            "nvidia.com/gpu.count": "3",
        },
        Mode.MIG_MIXED,
        1,
        {"quotient.io/mig-1g.10gb": "7"},
        id="MIG mixed with two GPUs left whole: only the sliced one is offered",
    ),
]


@pytest.mark.parametrize(("allocatable", "labels", "mode", "physical", "core_labels"), NODES)
def test_a_node_counts_its_physical_gpus_under_each_mode(
    allocatable: dict[str, str],
    labels: dict[str, str],
    mode: Mode,
    physical: int,
    core_labels: dict[str, str],
) -> None:
    gpus = read_node(allocatable, labels)
    assert (gpus.mode, gpus.physical, gpus.labels()) == (mode, physical, core_labels)
    assert node_gpus(allocatable, labels) == physical
    assert gpus.taints() == (
        () if mode == Mode.EXCLUSIVE else (Taint(sharing.SHARING_TAINT, mode),)
    )


PROFILES = [
    pytest.param("1g.10gb", A100_80, 80, 7, id="1g.10gb on an A100 80GB: 7 per GPU, 1/7 each"),
    pytest.param("1g.5gb", "NVIDIA-A100-SXM4-40GB", 40, 7, id="1g.5gb on an A100 40GB: 7"),
    pytest.param("2g.20gb", A100_80, 80, 3, id="2g.20gb: 3 per GPU"),
    pytest.param("3g.40gb", A100_80, 80, 2, id="3g.40gb: 2 per GPU"),
    pytest.param("4g.40gb", A100_80, 80, 1, id="4g.40gb: 1 per GPU"),
    pytest.param("7g.80gb", A100_80, 80, 1, id="7g.80gb: the whole GPU"),
    pytest.param("1g.20gb", A100_80, 80, 4, id="1g.20gb: memory allows only 4 per GPU"),
    pytest.param("1g.18gb", "NVIDIA-H200", 141, 7, id="1g.18gb on an H200 141GB: 7"),
    pytest.param("3g.71gb", "NVIDIA-H200", 141, 2, id="3g.71gb on an H200: 2"),
    pytest.param("1g.6gb", "NVIDIA-A30", 24, 4, id="1g.6gb on an A30: 4 per GPU"),
    pytest.param("2g.12gb", "NVIDIA-A30", 24, 2, id="2g.12gb on an A30: 2 per GPU"),
    pytest.param("1g.10gb", "unknown", 0, 7, id="unknown memory: compute slices alone"),
]


@pytest.mark.parametrize(("profile", "product", "memory_gb", "per_gpu"), PROFILES)
def test_a_profile_fits_so_many_slices_on_one_gpu(
    profile: str, product: str, memory_gb: int, per_gpu: int
) -> None:
    assert sharing.slices_per_gpu(profile, product, memory_gb) == per_gpu


COSTS = [
    pytest.param("1g.10gb", 142, id="1g.10gb costs 1/7 of a GPU, rounded down"),
    pytest.param("2g.20gb", 285, id="2g.20gb costs 2/7"),
    pytest.param("3g.40gb", 428, id="3g.40gb costs 3/7"),
    pytest.param("4g.40gb", 571, id="4g.40gb costs 4/7"),
    pytest.param("7g.80gb", 1000, id="7g.80gb is the whole GPU"),
    pytest.param("1g.6gb", 250, id="1g.6gb on an A30 costs 1/4"),
    pytest.param("2g.12gb", 500, id="2g.12gb on an A30 costs 1/2"),
    pytest.param("1g.10gb+me", 142, id="a media-extension profile costs as its base"),
]


@pytest.mark.parametrize(("profile", "milli"), COSTS)
def test_a_slice_costs_its_compute_share(profile: str, milli: int) -> None:
    assert sharing.profile_milli(profile) == milli


@pytest.mark.parametrize("gi", [1, 2, 3, 4])
def test_as_many_slices_fit_a_gpu_as_its_compute_allows_and_one_more_never(gi: int) -> None:
    milli, fit = sharing.profile_milli(f"{gi}g.{10 * gi}gb"), 7 // gi
    assert fit * milli <= MILLI_PER_GPU < (fit + 1) * milli


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            MigRequest("1g.10gb", 1),
            GpuRequest(fraction_milli=142),
            id="one 1g.10gb slice is a seventh of a GPU",
        ),
        pytest.param(
            MigRequest("1g.10gb", 2),
            GpuRequest(fraction_milli=284),
            id="two slices are two sevenths",
        ),
        pytest.param(
            MigRequest("7g.80gb", 2), GpuRequest(whole=2), id="the whole-GPU profile is whole GPUs"
        ),
    ],
)
def test_a_mig_request_in_core_terms(request_: MigRequest, expected: GpuRequest) -> None:
    assert request_.gpu_request() == expected


def test_slices_that_no_gpu_holds_are_refused_naming_the_limit() -> None:
    with pytest.raises(ValueError, match=re.escape('limits["nvidia.com/mig-4g.40gb"]')):
        MigRequest("4g.40gb", 2).gpu_request()


PODS = [
    pytest.param(
        {"nvidia.com/mig-1g.10gb": "1"},
        {},
        MigRequest("1g.10gb", 1),
        id="a mixed-strategy pod names its profile as a resource",
    ),
    pytest.param(
        {"nvidia.com/mig-3g.40gb": 2}, {}, MigRequest("3g.40gb", 2), id="two slices of one profile"
    ),
    pytest.param(
        {"nvidia.com/gpu": "1"},
        {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"},
        MigRequest("1g.10gb", 1),
        id="a single-strategy pod selects the MIG product and asks for nvidia.com/gpu",
    ),
    pytest.param(
        {"nvidia.com/gpu": "1"},
        {"nvidia.com/gpu.product": A100_80},
        None,
        id="nvidia.com/gpu on a plain product is a whole GPU, not a slice",
    ),
    pytest.param({}, {}, None, id="a pod asking for no GPU asks for no slice"),
]


@pytest.mark.parametrize(("limits", "selector", "expected"), PODS)
def test_a_pods_mig_request(
    limits: dict[str, object], selector: dict[str, str], expected: MigRequest | None
) -> None:
    assert sharing.mig_request(limits, selector) == expected


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        pytest.param(
            {"nvidia.com/mig-1g.10gb": "1", "nvidia.com/mig-2g.20gb": "1"},
            "limits",
            id="two profiles in one pod",
        ),
        pytest.param(
            {"nvidia.com/mig-1g.10gb": "0.5"}, 'limits["nvidia.com/mig-1g.10gb"]', id="half a slice"
        ),
        pytest.param(
            {"nvidia.com/mig-1g.10gb": "0"}, 'limits["nvidia.com/mig-1g.10gb"]', id="no slice"
        ),
        pytest.param(
            {"nvidia.com/mig-big": "1"},
            'limits["nvidia.com/mig-big"]',
            id="a profile name that is not <N>g.<M>gb",
        ),
    ],
)
def test_a_mig_request_that_cannot_be_served_names_the_field(
    limits: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(field)}"):
        sharing.mig_request(limits, {})


def _allowed(
    node: dict[str, str], labels: dict[str, str], whole: bool, mig: MigRequest | None
) -> bool:
    gpus = read_node(node, labels)
    core = Node("n", gpu_count=gpus.physical, labels=gpus.labels(), taints=gpus.taints())
    return node_admits(core, sharing.constrain(Constraints(), whole, mig), ()) is None


TIME_SLICED = ({"nvidia.com/gpu": "8"}, {"nvidia.com/gpu.replicas": "4"})
MIG = ({"nvidia.com/mig-1g.10gb": "7"}, {"nvidia.com/mig.strategy": "mixed"})
PLAIN = ({"nvidia.com/gpu": "8"}, {})


@pytest.mark.parametrize(
    ("node", "whole", "mig", "allowed"),
    [
        pytest.param(
            TIME_SLICED,
            True,
            None,
            False,
            id="a whole-GPU pod is never bound to a replica of a shared GPU",
        ),
        pytest.param(
            TIME_SLICED, False, None, True, id="a fractional pod may share a time-sliced GPU"
        ),
        pytest.param(MIG, False, None, False, id="a fractional pod does not go to a MIG node"),
        pytest.param(MIG, True, None, False, id="a whole-GPU pod does not go to a MIG node"),
        pytest.param(MIG, False, MigRequest("1g.10gb", 1), True, id="a MIG pod goes to a MIG node"),
        pytest.param(
            TIME_SLICED,
            False,
            MigRequest("1g.10gb", 1),
            False,
            id="a MIG pod does not go to a time-sliced node",
        ),
        pytest.param(PLAIN, True, None, True, id="a whole-GPU pod goes to a plain node"),
    ],
)
def test_who_may_go_to_a_shared_node(
    node: tuple[dict[str, str], dict[str, str]], whole: bool, mig: MigRequest | None, allowed: bool
) -> None:
    assert _allowed(*node, whole, mig) is allowed


def test_the_core_packs_mig_slices_as_fractions_exactly() -> None:
    gpus = read_node(
        {"nvidia.com/gpu": "14"},
        {
            "nvidia.com/mig.strategy": "single",
            "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb",
        },
    )
    request = MigRequest("1g.10gb", 1).gpu_request()
    assert gpus.physical == 2
    node = Node("n", gpu_count=gpus.physical, labels=gpus.labels(), taints=gpus.taints())
    assert 14 * request.milli_on(0) <= node.gpu_count * MILLI_PER_GPU
    assert (7 + 1) * request.milli_on(0) > MILLI_PER_GPU  # an 8th slice never fits one GPU


def test_a_mig_pods_own_affinity_still_holds_beside_the_profile() -> None:
    own = Constraints(
        required_terms=(
            NodeSelectorTerm((NodeSelectorRequirement("zone", "In", ("a",)),)),
            NodeSelectorTerm((NodeSelectorRequirement("zone", "In", ("b",)),)),
        )
    )
    terms = sharing.constrain(own, False, MigRequest("1g.10gb", 1)).required_terms
    need = NodeSelectorRequirement("quotient.io/mig-1g.10gb", "Exists")
    assert [t.match_expressions[-1] for t in terms] == [need, need]
    gpus = read_node(*MIG)
    in_b = Node("n", labels={**gpus.labels(), "zone": "b"}, taints=gpus.taints())
    in_c = Node("m", labels={**gpus.labels(), "zone": "c"}, taints=gpus.taints())
    assert node_admits(in_b, sharing.constrain(own, False, MigRequest("1g.10gb", 1)), ()) is None
    assert node_admits(in_c, sharing.constrain(own, False, MigRequest("1g.10gb", 1)), ())
