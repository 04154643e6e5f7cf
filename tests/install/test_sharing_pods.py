"""A pod's view of the GPU sharing modes, in core terms: its MIG request as a share of a
GPU, the nodes it may go to, how running slices fill GPUs, and what pods of other
schedulers hold."""

from __future__ import annotations

import pytest

from fairshare.model import Constraints, GpuRequest
from fairshare.resources import MILLI_PER_GPU
from scheduler.kube import sharing
from scheduler.kube.sharing import Mode


def _spec(limits: dict[str, object], selector: dict[str, str] | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"containers": [{"name": "c", "resources": {"limits": limits}}]}
    if selector:
        spec["nodeSelector"] = selector
    return spec


POD_VIEWS = [
    pytest.param(
        _spec({"nvidia.com/mig-1g.10gb": "1"}),
        GpuRequest(),
        GpuRequest(fraction_milli=142),
        True,
        id="a MIG pod becomes a seventh of a GPU on a node serving 1g.10gb",
    ),
    pytest.param(
        _spec(
            {"nvidia.com/gpu": "1"}, {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"}
        ),
        GpuRequest(whole=1),
        GpuRequest(fraction_milli=428),
        True,
        id="a single-strategy pod's nvidia.com/gpu is a 3g.40gb slice",
    ),
    pytest.param(
        _spec({"nvidia.com/gpu": "2"}),
        GpuRequest(whole=2),
        GpuRequest(whole=2),
        False,
        id="a whole-GPU pod stays whole and keeps off shared nodes",
    ),
    pytest.param(
        _spec({}),
        GpuRequest(fraction_milli=500),
        GpuRequest(fraction_milli=500),
        False,
        id="a fractional pod stays fractional",
    ),
]


@pytest.mark.parametrize(("spec", "before", "after", "mig"), POD_VIEWS)
def test_a_translated_pod_gets_its_sharing_view(
    spec: dict[str, object], before: GpuRequest, after: GpuRequest, mig: bool
) -> None:
    gpu, constraints = sharing.pod_view(spec, before, Constraints())
    assert gpu == after and sharing.is_mig(constraints) is mig
    whole_gpu_pod = after.whole > 0
    keys = {t.value for t in constraints.tolerations}
    assert (Mode.TIME_SLICING in keys) is (not mig and not whole_gpu_pod)
    assert (Mode.MIG_MIXED in keys) is mig


def test_a_mig_pod_that_also_asks_for_a_fraction_is_invalid() -> None:
    with pytest.raises(ValueError, match="must not also ask for a share"):
        sharing.pod_view(
            _spec({"nvidia.com/mig-1g.10gb": 1}), GpuRequest(fraction_milli=500), Constraints()
        )


def test_running_slices_fill_one_gpu_before_the_next() -> None:
    pods = [(f"ns/p{i}", "n1", 142) for i in range(9)] + [("ns/q", "n1", 428), ("ns/r", "n2", 142)]
    groups = sharing.pack_slices(pods)
    per_group: dict[str, int] = {}
    for key, node, milli in pods:
        per_group[f"{node}/{groups[key]}"] = per_group.get(f"{node}/{groups[key]}", 0) + milli
    assert sorted(per_group.values()) == [142, 284, 428, 994]
    assert all(v <= MILLI_PER_GPU for v in per_group.values())
    assert sharing.pack_slices(list(reversed(pods))) == groups  # the order they come in is moot


@pytest.mark.parametrize(
    ("limits", "gpus"),
    [
        pytest.param({"nvidia.com/gpu": "2"}, 2, id="whole GPUs count as they are"),
        pytest.param({"nvidia.com/mig-1g.10gb": "1"}, 1, id="one slice takes a GPU from us"),
        pytest.param({"nvidia.com/mig-1g.10gb": "7"}, 1, id="seven 1g slices fit one GPU"),
        pytest.param({"nvidia.com/mig-3g.40gb": "3"}, 2, id="three 3g slices need two GPUs"),
        pytest.param({}, 0, id="no GPU, no GPU"),
    ],
)
def test_another_schedulers_pod_counts_the_gpus_its_slices_occupy(
    limits: dict[str, object], gpus: int
) -> None:
    assert sharing.foreign_gpus(_spec(limits)) == gpus
