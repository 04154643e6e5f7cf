"""The examples, end to end without a cluster: each pod (or the pods its controller makes)
goes through our webhook, is created on the loopback apiserver of tests/kube, and the live
scheduler binds them all: whole GPUs, the 4-pod gang together, and the fractions once their
reservations report a GPU, with the ConfigMap the webhook wired them to."""

from __future__ import annotations

import copy
import threading
from typing import Any

from scheduler.kube.admission import CONFIGMAP_ANNOTATION, GPU_ENV, review
from scheduler.kube.loopback.server import LoopbackApiServer
from scheduler.kube.state import RESERVATION_LABEL, UUID_NOTE
from tests.builders import project, tree
from tests.install.builders import patched, review_of
from tests.install.manifests import MANIFESTS, docs, pod_of, resources_of
from tests.kube.builders import eventually
from tests.kube.conftest import Factory, apiserver, scheduler  # noqa: F401 (fixtures)

EXAMPLES = {
    d.obj["metadata"]["name"]: d.obj
    for d in docs(resources_of(MANIFESTS / "examples" / "kustomization.yaml"))
    if d.obj["kind"] in ("Pod", "Deployment", "Job")
}
WHOLE = ["cuda-vectoradd", "ollama-0", "ddp-train-0", "ddp-train-1", "ddp-train-2", "ddp-train-3"]
SHARED = ["jupyter", "embeddings", "gpu-sharing"]


def _pods() -> list[dict[str, Any]]:
    """The pods the examples make, named as their controllers would, after admission."""
    out = []
    for name, obj in EXAMPLES.items():
        copies = obj["spec"].get("parallelism", 1) if obj["kind"] == "Job" else 1
        for i in range(copies):
            pod = pod_of(obj)
            response = review(review_of(pod, uid=f"uid-{name}-{i}"))["response"]
            assert response["allowed"], response
            pod = copy.deepcopy(patched(pod, response))
            if obj["kind"] != "Pod":
                pod["metadata"]["name"] = f"{name}-{i}"
                pod["metadata"].setdefault("labels", {})["job-name"] = name
            out.append(pod)
    return out


def _report_uuids(api: LoopbackApiServer) -> int:
    """What each reservation pod's `python -m scheduler.kube.reserve` does: record its GPU."""
    waiting = api.store.query(
        "/pods",
        "quotient-system",
        lambda p: (
            p["metadata"]["labels"].get(RESERVATION_LABEL) == "true"
            and UUID_NOTE not in p["metadata"]["annotations"]
        ),
    )
    for i, pod in enumerate(waiting):
        note = {UUID_NOTE: f"GPU-0000000{i}-aaaa-4000-8000-{pod['metadata']['name'][-8:]:0>12}"}
        api.store.mutate(
            "/pods",
            "quotient-system",
            pod["metadata"]["name"],
            lambda p, n=note: p["metadata"]["annotations"].update(n),
        )
    return len(waiting)


def _reservation_pods(api: LoopbackApiServer, stop: threading.Event) -> None:
    """Reservation pods report their GPU as soon as they exist, as on a cluster."""
    while not stop.wait(0.02):
        _report_uuids(api)


def _bound(api: LoopbackApiServer, name: str) -> bool:
    pod = api.store.find("/pods", "team-a", name)
    return bool(pod and pod["spec"].get("nodeName"))


def test_the_examples_are_all_scheduled(
    apiserver: LoopbackApiServer,  # noqa: F811
    scheduler: Factory,  # noqa: F811
) -> None:
    live = scheduler(tree(project("team-a", 4)), nodes=2)
    pods = _pods()
    for pod in pods:
        apiserver.put("/pods", pod, "team-a")
    eventually(lambda: len(live.cache.pods.items) == len(pods), what="every example pod")

    stop = threading.Event()
    devices = threading.Thread(target=_reservation_pods, args=(apiserver, stop), daemon=True)
    devices.start()

    def settled() -> bool:
        live.cycle()
        live.executor.drain()
        return all(_bound(apiserver, n) for n in WHOLE + SHARED)

    try:
        eventually(settled, timeout=30, what="every example pod bound")
    finally:
        stop.set()
        devices.join()
    for name in SHARED:
        pod = apiserver.store.find("/pods", "team-a", name)
        assert pod is not None
        configmap = apiserver.store.find(
            "/configmaps", "team-a", pod["metadata"]["annotations"][CONFIGMAP_ANNOTATION]
        )
        assert configmap is not None, f"{name}: no ConfigMap under the name the webhook recorded"
        assert set(configmap["data"]) == set(GPU_ENV), "the keys the webhook wires"
