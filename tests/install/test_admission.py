"""The webhook's AdmissionReview v1 round trip, as tables: what is rejected and why, what a
fractional pod is wired to, and who gets NVIDIA_VISIBLE_DEVICES=void."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.kube.admission import CONFIGMAP_ANNOTATION, MAX_NAME, review
from tests.install.builders import container, env_of, patched, pod, review_of

UID = "0d6a3c1e-4b7f-4c1a-9b1e-2f5d6c7a8b90"


def _ref(name: str, key: str) -> dict[str, Any]:
    return {"configMapKeyRef": {"name": name, "key": key, "optional": False}}


def wired(name: str) -> dict[str, Any]:
    keys = ("NVIDIA_VISIBLE_DEVICES", "GPU_FRACTION", "GPU_MEMORY_LIMIT_MIB")
    return {k: _ref(name, k) for k in keys}


VOID = {"NVIDIA_VISIBLE_DEVICES": "void"}

REJECTED = [
    pytest.param(
        pod(labels={"quotient.io/workload-type": "batch"}),
        "pod",
        id="what the scheduler would call InvalidRequest is rejected with its reason",
    ),
    pytest.param(
        pod(containers=[container(**{"nvidia.com/mig-big": "1"})]),
        "pod",
        id="a MIG resource that names no profile is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "0.5"}, containers=[container(gpus="1")]),
        "spec.containers[0].resources.limits[nvidia.com/gpu]",
        id="a fraction together with nvidia.com/gpu is rejected, naming the container's limit",
    ),
    pytest.param(
        pod(annotations={"gpu-memory": "8000"}, init=[container("init", gpus="1")]),
        "spec.initContainers[0].resources.limits[nvidia.com/gpu]",
        id="gpu-memory together with a GPU on an init container is rejected",
    ),
    pytest.param(
        pod(
            annotations={"gpu-fraction": "0.5"},
            containers=[container(**{"nvidia.com/mig-1g.10gb": "1"})],
        ),
        "spec.containers[0].resources.limits[nvidia.com/mig-1g.10gb]",
        id="a fraction together with a MIG slice is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "1"}),
        "metadata.annotations[gpu-fraction]",
        id="a fraction of 1 is rejected: whole GPUs go in limits",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "1.5"}),
        "metadata.annotations[gpu-fraction]",
        id="a fraction above 1 is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "0"}),
        "metadata.annotations[gpu-fraction]",
        id="a fraction of 0 is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "-0.5"}),
        "metadata.annotations[gpu-fraction]",
        id="a negative fraction is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "0.3333"}),
        "metadata.annotations[gpu-fraction]",
        id="a fraction with more than 3 decimals is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "half"}),
        "metadata.annotations[gpu-fraction]",
        id="a fraction that is not a number is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-memory": "8GiB"}),
        "metadata.annotations[gpu-memory]",
        id="gpu-memory with a unit is rejected: it is MiB as a whole number",
    ),
    pytest.param(
        pod(annotations={"gpu-memory": "0"}),
        "metadata.annotations[gpu-memory]",
        id="gpu-memory of 0 is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-memory": "1.5"}),
        "metadata.annotations[gpu-memory]",
        id="gpu-memory that is not an integer is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "0.5", "gpu-memory": "8000"}),
        "metadata.annotations[gpu-fraction]",
        id="both a fraction and gpu-memory are rejected",
    ),
    pytest.param(
        pod(annotations={"quotient.io/gang": "g", "quotient.io/gang-size": "0"}),
        "metadata.annotations[quotient.io/gang-size]",
        id="a gang size of 0 is rejected",
    ),
    pytest.param(
        pod(labels={"quotient.io/gang": "g", "quotient.io/gang-size": "four"}),
        "metadata.labels[quotient.io/gang-size]",
        id="a gang size label that is not a number is rejected",
    ),
    pytest.param(
        pod(annotations={"quotient.io/gang-size": "4"}),
        "metadata.annotations[quotient.io/gang-size]",
        id="a gang size without a gang name is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "0.5", "gpu-fraction-container-name": "x"}),
        "metadata.annotations[gpu-fraction-container-name]",
        id="a GPU container name that no container has is rejected",
    ),
    pytest.param(
        pod(annotations={"gpu-fraction": "0.5", CONFIGMAP_ANNOTATION: "Bad_Name"}),
        f"metadata.annotations[{CONFIGMAP_ANNOTATION}]",
        id="a recorded ConfigMap name that is not a DNS name is rejected",
    ),
]


@pytest.mark.parametrize(("obj", "field"), REJECTED)
def test_what_can_never_work_is_rejected_naming_the_field(obj: dict[str, Any], field: str) -> None:
    out = review(review_of(obj))
    response = out["response"]
    assert out["kind"] == "AdmissionReview" and out["apiVersion"] == "admission.k8s.io/v1"
    assert response["uid"] == UID
    assert response["allowed"] is False
    assert "patch" not in response
    assert response["status"]["code"] == 400
    assert response["status"]["message"].startswith(f"{field}: ")


MUTATED = [
    pytest.param(
        pod("nb", annotations={"gpu-fraction": "0.5"}),
        "nb-gpu",
        {"containers": [wired("nb-gpu")]},
        id="a fractional pod's first container is wired to <pod-name>-gpu, not optionally",
    ),
    pytest.param(
        pod(
            "llm",
            annotations={"gpu-memory": "8000"},
            containers=[container("server"), container("sidecar")],
        ),
        "llm-gpu",
        {"containers": [wired("llm-gpu"), VOID]},
        id="a gpu-memory pod's first container gets the GPU and its sidecar gets void",
    ),
    pytest.param(
        pod(
            "nb",
            annotations={"gpu-fraction": "0.25", "gpu-fraction-container-name": "work"},
            containers=[container("proxy"), container("work")],
            init=[container("setup")],
        ),
        "nb-gpu",
        {"containers": [VOID, wired("nb-gpu")], "initContainers": [VOID]},
        id="the container named by gpu-fraction-container-name gets the GPU, as KAI does",
    ),
    pytest.param(
        pod(None, generate_name="train-", annotations={"gpu-fraction": "0.5"}),
        "train-gpu-0d6a3c1e4b7f",
        {"containers": [wired("train-gpu-0d6a3c1e4b7f")]},
        id="a generateName pod gets a ConfigMap name from its prefix and the request uid",
    ),
    pytest.param(
        pod(
            None,
            generate_name="job-x-",
            annotations={"gpu-fraction": "0.5", CONFIGMAP_ANNOTATION: "mine"},
        ),
        "mine",
        {"containers": [wired("mine")]},
        id="a ConfigMap name already recorded in the annotation is kept",
    ),
    pytest.param(
        pod("cpu", containers=[container("a"), container("b")]),
        None,
        {"containers": [VOID, VOID]},
        id="every container of a quotient pod that asks for no GPU gets void",
    ),
    pytest.param(
        pod("train", containers=[container("worker", gpus="2"), container("logger")]),
        None,
        {"containers": [{}, VOID]},
        id="a whole-GPU container is left to the device plugin; its GPU-less sidecar gets void",
    ),
    pytest.param(
        pod("mig", containers=[container(**{"nvidia.com/mig-1g.10gb": "1"})]),
        None,
        {"containers": [{}]},
        id="a MIG-slice container is left to the device plugin",
    ),
    pytest.param(
        pod("zero", containers=[container(gpus="0")]),
        None,
        {"containers": [VOID]},
        id="a container asking for 0 GPUs asks for none and gets void",
    ),
    pytest.param(
        pod(
            "sneaky",
            containers=[
                container()
                | {
                    "env": [
                        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
                        {"name": "KEEP", "value": "1"},
                    ]
                }
            ],
        ),
        None,
        {"containers": [{"KEEP": "1", "NVIDIA_VISIBLE_DEVICES": "void"}]},
        id="a container that set NVIDIA_VISIBLE_DEVICES=all itself gets void instead",
    ),
]


@pytest.mark.parametrize(("obj", "configmap", "envs"), MUTATED)
def test_quotient_pods_are_wired(
    obj: dict[str, Any], configmap: str | None, envs: dict[str, list[dict[str, Any]]]
) -> None:
    response = review(review_of(obj))["response"]
    assert response["allowed"] is True and response["uid"] == UID
    after = patched(obj, response)
    notes = after["metadata"].get("annotations") or {}
    assert notes.get(CONFIGMAP_ANNOTATION) == configmap
    for kind, expected in envs.items():
        assert [env_of(after, i, kind) for i in range(len(expected))] == expected
    assert after["spec"]["schedulerName"] == "quotient"


PASSED_THROUGH = [
    pytest.param(
        review_of(pod(scheduler="default-scheduler", annotations={"gpu-fraction": "2"})),
        id="a pod of another scheduler is allowed untouched, however odd",
    ),
    pytest.param(
        review_of(pod(annotations={"gpu-fraction": "2"}), operation="UPDATE"),
        id="an UPDATE is allowed untouched: env vars are fixed at creation",
    ),
    pytest.param(
        review_of(pod(containers=[container(gpus="1")])),
        id="a whole-GPU pod with nothing else to wire needs no patch",
    ),
]


@pytest.mark.parametrize("body", PASSED_THROUGH)
def test_other_requests_are_allowed_without_a_patch(body: dict[str, Any]) -> None:
    response = review(body)["response"]
    assert response == {"uid": UID, "allowed": True}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"kind": "Pod"}, "kind", id="not an AdmissionReview"),
        pytest.param(
            {
                "kind": "AdmissionReview",
                "apiVersion": "admission.k8s.io/v1beta1",
                "request": {"uid": "u"},
            },
            "apiVersion",
            id="v1beta1 is refused",
        ),
        pytest.param(
            {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}},
            "request.uid",
            id="a request without a uid",
        ),
        pytest.param([], "kind", id="not an object"),
    ],
)
def test_a_body_that_is_not_a_review_is_an_error_naming_the_field(body: Any, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{message}:"):
        review(body)


def test_the_patch_only_touches_what_it_wires() -> None:
    obj = pod("nb", annotations={"gpu-fraction": "0.5", "other": "x"}, labels={"a": "b"})
    after = patched(obj, review(review_of(obj))["response"])
    assert after["metadata"]["annotations"] == {
        "gpu-fraction": "0.5",
        "other": "x",
        CONFIGMAP_ANNOTATION: "nb-gpu",
    }
    assert after["metadata"]["labels"] == {"a": "b"}
    assert after["spec"]["containers"][0]["image"] == "busybox"


def test_a_long_pod_name_still_gets_a_configmap_name_within_the_limit() -> None:
    obj = pod("n" * 252, annotations={"gpu-fraction": "0.5"})
    after = patched(obj, review(review_of(obj))["response"])
    name = after["metadata"]["annotations"][CONFIGMAP_ANNOTATION]
    assert len(name) <= MAX_NAME and name.endswith("-gpu-0d6a3c1e4b7f")


@pytest.mark.parametrize(("obj", "configmap", "envs"), MUTATED)
def test_admitting_an_admitted_pod_again_changes_nothing(
    obj: dict[str, Any], configmap: str | None, envs: dict[str, list[dict[str, Any]]]
) -> None:
    # reinvocationPolicy IfNeeded: the API server may call the webhook on its own output.
    once = patched(obj, review(review_of(obj))["response"])
    assert review(review_of(once, uid="another-request"))["response"] == {
        "uid": "another-request",
        "allowed": True,
    }
