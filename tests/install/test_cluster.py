"""End to end, opt-in (`pytest -m cluster`): against the cluster `KUBECONFIG` names, with
Quotient installed from manifests/ and project team-a created (scripts/kind-e2e.sh does all
of it on a kind cluster with fake GPUs). Applies the examples and checks that they are
admitted by the webhook and scheduled by Quotient.

`QUOTIENT_E2E_EXAMPLES=DIR` applies another kustomization of the examples (the kind
script's drops their CPU and memory requests). `QUOTIENT_E2E_FAKE_GPUS=1` says the GPUs are
patched-on extended resources: reservation pods cannot read a UUID there, so fractional pods
are expected to get a reservation and stay unbound instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.install.manifests import MANIFESTS

pytestmark = pytest.mark.cluster

NAMESPACE = "team-a"
TIMEOUT = float(os.environ.get("QUOTIENT_E2E_TIMEOUT", "180"))
FAKE_GPUS = os.environ.get("QUOTIENT_E2E_FAKE_GPUS") == "1"


@pytest.fixture(scope="module")
def core() -> Iterator[Any]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    from kubernetes import client

    from scheduler.kube.config import ClusterConfigError, api_client

    if not os.environ.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG names no cluster")
    try:
        api = api_client(os.environ["KUBECONFIG"])
    except ClusterConfigError as e:
        pytest.skip(str(e))
    examples = os.environ.get("QUOTIENT_E2E_EXAMPLES") or str(MANIFESTS / "examples")
    subprocess.run(["kubectl", "apply", "-k", examples], check=True, timeout=120)
    yield client.CoreV1Api(api)


def _eventually(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    pytest.fail(f"after {TIMEOUT:.0f}s: {what}")


def _pods(core: Any, selector: str = "") -> list[Any]:
    return list(core.list_namespaced_pod(NAMESPACE, label_selector=selector).items)


def _bound(core: Any, name: str) -> bool:
    return bool(core.read_namespaced_pod(name, NAMESPACE).spec.node_name)


@pytest.mark.parametrize("name", ["cuda-vectoradd"])
def test_a_whole_gpu_pod_is_bound(core: Any, name: str) -> None:
    _eventually(f"{name} is bound to a node", lambda: _bound(core, name))


def test_the_ollama_deployment_is_bound(core: Any) -> None:
    _eventually(
        "the ollama pod is bound", lambda: any(p.spec.node_name for p in _pods(core, "app=ollama"))
    )


def test_the_gang_is_bound_all_together(core: Any) -> None:
    def all_four() -> bool:
        pods = _pods(core, "job-name=ddp-train")
        bound = [p for p in pods if p.spec.node_name]
        assert len(bound) in (0, len(pods)) or len(pods) < 4, "a gang was bound in part"
        return len(pods) == 4 and len(bound) == 4

    _eventually("the 4 ddp-train pods are bound together", all_four)


@pytest.mark.parametrize("name", ["jupyter", "embeddings", "gpu-sharing"])
def test_a_fractional_pod_is_wired_by_the_webhook_and_scheduled(core: Any, name: str) -> None:
    pod = core.read_namespaced_pod(name, NAMESPACE)
    configmap = (pod.metadata.annotations or {}).get("quotient.io/gpu-configmap")
    assert configmap == f"{name}-gpu"
    env = {e.name: e for e in pod.spec.containers[0].env or []}
    assert env["NVIDIA_VISIBLE_DEVICES"].value_from.config_map_key_ref.name == configmap

    if FAKE_GPUS:  # no UUID to read: a reservation is made, and the pod is never bound blind
        _eventually(
            "a reservation pod holds a GPU for the fractions",
            lambda: bool(
                core.list_namespaced_pod(
                    "quotient-system", label_selector="quotient.io/reservation=true"
                ).items
            ),
        )
        assert not core.read_namespaced_pod(name, NAMESPACE).spec.node_name
        return

    def bound() -> bool:
        if not core.read_namespaced_pod(name, NAMESPACE).spec.node_name:
            return False
        core.read_namespaced_config_map(configmap, NAMESPACE)  # written before the bind
        return True

    _eventually(f"{name} is bound with its ConfigMap", bound)


def test_the_live_webhook_rejects_an_impossible_fraction(core: Any) -> None:
    from kubernetes.client.exceptions import ApiException

    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "too-much", "annotations": {"gpu-fraction": "1.5"}},
        "spec": {
            "schedulerName": "quotient",
            "containers": [{"name": "c", "image": "busybox:1.36"}],
        },
    }
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod(NAMESPACE, body)
    assert raised.value.status == 400
    assert "metadata.annotations[gpu-fraction]" in str(raised.value.body)


def test_a_pod_of_another_scheduler_does_not_depend_on_the_webhook(core: Any) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "not-ours", "annotations": {"gpu-fraction": "1.5"}},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}],
            "restartPolicy": "Never",
        },
    }
    created = core.create_namespaced_pod(NAMESPACE, body)
    try:
        assert not created.spec.containers[0].env  # untouched: the webhook was never called
    finally:
        core.delete_namespaced_pod("not-ours", NAMESPACE)
