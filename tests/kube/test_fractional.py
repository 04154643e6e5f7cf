"""Fractional GPUs on the cluster (DESIGN §1.3): a reservation pod holds the GPU, reports its
UUID, and each fractional pod gets its ConfigMap, owned by it, before it is bound."""

from __future__ import annotations

import time
from typing import Any

from scheduler.kube.fractional import ReservationSpec
from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.state import RESERVATION_LABEL
from tests.kube.builders import eventually, pod_obj
from tests.kube.conftest import Factory

GPU_UUID = "GPU-5c5a6a2e-0000-4000-8000-00000000beef"


def reservations(api: LoopbackApiServer) -> list[dict[str, Any]]:
    return api.store.query(
        "/pods",
        "quotient-system",
        lambda p: p["metadata"]["labels"].get(RESERVATION_LABEL) == "true",
    )


def report_uuid(api: LoopbackApiServer, gpu_uuid: str = GPU_UUID) -> str:
    """What `python -m scheduler.kube.reserve` does in the reservation pod."""
    pod = eventually(lambda: reservations(api), what="a reservation pod")[0]
    name = pod["metadata"]["name"]
    api.store.mutate(
        "/pods",
        "quotient-system",
        name,
        lambda p: p["metadata"]["annotations"].update({"quotient.io/gpu-uuid": gpu_uuid}),
    )
    return str(name)


def fraction(name: str, share: str, **notes: str) -> dict[str, Any]:
    return pod_obj(name, gpus=None, annotations={"gpu-fraction": share, **notes})


def test_a_fractional_pod_gets_its_configmap_before_it_is_bound(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    uid = apiserver.put("/pods", fraction("half", "0.5"), "team-a")["metadata"]["uid"]
    eventually(lambda: live.cache.pods.items)
    live.cycle()
    reservation = report_uuid(apiserver)
    live.executor.drain()
    res = apiserver.store.find("/pods", "quotient-system", reservation)
    assert res is not None and res["spec"]["nodeName"] == "node-1"
    limits = res["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1", "the device plugin really hands this GPU out"
    cm = apiserver.store.find("/configmaps", "team-a", "half-gpu")
    assert cm is not None and cm["data"] == {
        "NVIDIA_VISIBLE_DEVICES": GPU_UUID,
        "GPU_FRACTION": "0.5",
        "GPU_MEMORY_LIMIT_MIB": "40960",
    }
    assert cm["metadata"]["ownerReferences"][0]["uid"] == uid
    order = [p for m, p in apiserver.requests if m == "POST"]
    assert order.index("/api/v1/namespaces/team-a/configmaps") < order.index(
        "/api/v1/namespaces/team-a/pods/half/binding"
    )
    pod = apiserver.store.find("/pods", "team-a", "half")
    assert pod is not None and pod["spec"]["nodeName"] == "node-1"
    assert pod["metadata"]["annotations"]["quotient.io/gpu-uuid"] == GPU_UUID


def test_a_second_fraction_shares_the_gpu_and_an_unused_reservation_is_deleted(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", fraction("a", "0.5"), "team-a")
    eventually(lambda: live.cache.pods.items)
    live.cycle()
    report_uuid(apiserver)
    live.executor.drain()
    apiserver.put(
        "/pods", fraction("b", "0.25", **{"quotient.io/gpu-configmap": "b-env"}), "team-a"
    )
    eventually(lambda: "team-a/b" in live.cache.pods.items)
    eventually(lambda: live.cache.pod("team-a/a")["spec"].get("nodeName"))
    live.cycle()
    live.executor.drain()
    assert len(reservations(apiserver)) == 1, "the shared GPU is reused, not reserved again"
    cm = apiserver.store.find("/configmaps", "team-a", "b-env")  # the webhook's recorded name
    assert cm is not None and cm["data"]["NVIDIA_VISIBLE_DEVICES"] == GPU_UUID
    for name in ("a", "b"):
        apiserver.store.delete("/pods", "team-a", name)
    eventually(lambda: len(live.cache.pods.items) == 1)
    live.cycle()
    live.executor.drain()
    assert reservations(apiserver) == [], "a reservation with no fractional pods left is deleted"


def test_a_reservation_that_never_reports_a_uuid_is_deleted_and_tried_again(
    apiserver: LoopbackApiServer, scheduler: Factory
) -> None:
    spec = ReservationSpec(uuid_timeout_seconds=0.5, idle_grace_seconds=0, retry_seconds=0.5)
    live = scheduler(nodes=1, reservation=spec)
    apiserver.put("/pods", fraction("q", "0.5"), "team-a")
    eventually(lambda: live.cache.pods.items)
    live.cycle()
    first = eventually(lambda: reservations(apiserver))[0]["metadata"]["name"]
    live.executor.drain()
    assert apiserver.store.find("/pods", "quotient-system", first) is None
    assert not apiserver.store.find("/pods", "team-a", "q")["spec"].get("nodeName")
    assert apiserver.store.find("/configmaps", "team-a", "q-gpu") is None, "no UUID, no ConfigMap"
    report = live.cycle()
    assert report is not None and "reported no UUID" in report.result.failed_bindings["team-a/q"]
    assert reservations(apiserver) == [], "that node gets no new reservation at once"
    time.sleep(0.5)
    live.cycle()
    second = report_uuid(apiserver)
    live.executor.drain()
    assert second != first
    assert apiserver.store.find("/pods", "team-a", "q")["spec"]["nodeName"] == "node-1"
