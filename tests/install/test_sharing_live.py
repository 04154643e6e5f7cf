"""GPU sharing modes through the live scheduler (the real client against the loopback
apiserver of tests/kube): MIG pods are bound as the device plugin's, with no reservation,
and count their share of a GPU; whole-GPU pods never land on time-sliced replicas."""

from __future__ import annotations

from typing import Any

from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.state import RESERVATION_LABEL
from tests.kube.builders import eventually, node_obj, pod_obj
from tests.kube.conftest import Factory, apiserver, scheduler  # noqa: F401 (fixtures)

MIG_NODE_LABELS = {"nvidia.com/mig.strategy": "mixed", "nvidia.com/gpu.count": "1"}


def mig_node(name: str, slices: int) -> dict[str, Any]:
    node = node_obj(name, 0, product="NVIDIA-A100-SXM4-80GB", labels=MIG_NODE_LABELS)
    node["status"]["allocatable"]["nvidia.com/mig-1g.10gb"] = str(slices)
    node["status"]["capacity"]["nvidia.com/mig-1g.10gb"] = str(slices)
    return node


def mig_pod(name: str, **kw: Any) -> dict[str, Any]:
    pod = pod_obj(name, gpus=None, **kw)
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/mig-1g.10gb": "1"}}
    return pod


def _node_of(api: LoopbackApiServer, name: str) -> str | None:
    pod = api.store.find("/pods", "team-a", name)
    return None if pod is None else pod["spec"].get("nodeName")


def _reservations(api: LoopbackApiServer) -> list[Any]:
    return api.store.query(
        "/pods", "quotient-system", lambda p: p["metadata"]["labels"].get(RESERVATION_LABEL)
    )


def test_mig_slices_are_bound_directly_and_count_a_seventh_each(
    apiserver: LoopbackApiServer,  # noqa: F811
    scheduler: Factory,  # noqa: F811
) -> None:
    apiserver.put("/nodes", mig_node("mig-1", 7))
    live = scheduler()
    for i in range(8):
        apiserver.put("/pods", mig_pod(f"slice-{i}"), "team-a")
    eventually(lambda: len(live.cache.pods.items) == 8, what="8 pods in the cache")
    live.cycle()
    live.executor.drain()
    bound = [i for i in range(8) if _node_of(apiserver, f"slice-{i}") == "mig-1"]
    assert len(bound) == 7, "seven 1g.10gb slices fit one A100; the eighth waits"
    assert _reservations(apiserver) == [], "MIG slices come from the device plugin"
    eventually(
        lambda: sum(1 for p in live.cache.pods.items.values() if p["spec"].get("nodeName")) == 7,
        what="binds seen",
    )
    report = live.cycle()
    assert report is not None
    assert report.plan.projects["team-a"].allocated_milli == 7 * 142
    assert not report.plan.bindings, "the node's slices are all taken"


def test_a_whole_gpu_pod_never_lands_on_a_time_sliced_replica(
    apiserver: LoopbackApiServer,  # noqa: F811
    scheduler: Factory,  # noqa: F811
) -> None:
    apiserver.put("/nodes", node_obj("shared-1", 8, labels={"nvidia.com/gpu.replicas": "4"}))
    live = scheduler()
    apiserver.put("/pods", pod_obj("whole", gpus=1), "team-a")
    eventually(lambda: live.cache.pods.items, what="the pod in the cache")
    report = live.cycle()
    assert report is not None and not report.plan.bindings
    (reason,) = report.plan.pending.values()
    assert "quotient.io/gpu-sharing=time-slicing" in reason.message


def test_a_gpu_holding_another_schedulers_slice_is_not_ours_to_fill(
    apiserver: LoopbackApiServer,  # noqa: F811
    scheduler: Factory,  # noqa: F811
) -> None:
    apiserver.put("/nodes", mig_node("mig-1", 7))
    theirs = mig_pod("theirs", scheduler="default-scheduler", node="mig-1")
    apiserver.put("/pods", theirs, "team-a")
    live = scheduler()
    apiserver.put("/pods", mig_pod("ours"), "team-a")
    eventually(lambda: len(live.cache.pods.items) == 2, what="both pods in the cache")
    report = live.cycle()
    # Conservative: a foreign slice counts as the whole GPU it sits on, never as free room.
    assert report is not None and not report.plan.bindings
