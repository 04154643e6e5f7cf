"""The examples ask for what their comments say, and our own webhook admits them: each
example pod (or the pod its controller will create) goes through the AdmissionReview round
trip and comes out wired as it should."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.kube.admission import CONFIGMAP_ANNOTATION, review
from tests.install.builders import env_of, patched, review_of
from tests.install.manifests import MANIFESTS, docs, pod_of, resources_of

EXAMPLES = docs(resources_of(MANIFESTS / "examples" / "kustomization.yaml"))
WORKLOADS = {
    d.obj["metadata"]["name"]: d.obj
    for d in EXAMPLES
    if d.obj["kind"] in ("Pod", "Deployment", "Job")
}


def _admitted(name: str) -> dict[str, Any]:
    obj = pod_of(WORKLOADS[name])
    response = review(review_of(obj))["response"]
    assert response["allowed"] is True, response.get("status")
    return patched(obj, response)


def _gpus(pod: dict[str, Any]) -> list[int]:
    return [
        int((c.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0))
        for c in pod["spec"]["containers"]
    ]


EXPECTED = [
    pytest.param("cuda-vectoradd", [1], None, "", id="cuda-vectoradd asks for one whole GPU"),
    pytest.param(
        "ollama",
        [1],
        None,
        "interactive",
        id="Ollama serves on one whole GPU as an interactive workload",
    ),
    pytest.param(
        "jupyter",
        [0],
        "0.5",
        "interactive",
        id="the Jupyter notebook asks for half a GPU and is wired to its ConfigMap",
    ),
    pytest.param(
        "embeddings",
        [0],
        "8000",
        "inference",
        id="the gpu-memory pod asks for 8000 MiB and is wired to its ConfigMap",
    ),
    pytest.param("ddp-train", [2], None, "train", id="each gang training pod asks for 2 GPUs"),
    pytest.param(
        "gpu-sharing", [0], "0.5", "", id="the KAI-style pod keeps its gpu-fraction and queue label"
    ),
]


@pytest.mark.parametrize(("name", "gpus", "share", "kind"), EXPECTED)
def test_each_example_is_admitted_as_it_says(
    name: str, gpus: list[int], share: str | None, kind: str
) -> None:
    pod = _admitted(name)
    assert pod["spec"]["schedulerName"] == "quotient"
    assert _gpus(pod) == gpus
    labels, notes = pod["metadata"].get("labels") or {}, pod["metadata"].get("annotations") or {}
    assert labels.get("quotient.io/workload-type", "") == kind
    if share is None:
        assert CONFIGMAP_ANNOTATION not in notes and "NVIDIA_VISIBLE_DEVICES" not in env_of(pod)
    else:
        assert share in (notes.get("gpu-fraction"), notes.get("gpu-memory"))
        ref = env_of(pod)["NVIDIA_VISIBLE_DEVICES"]["configMapKeyRef"]
        assert ref == {
            "name": notes[CONFIGMAP_ANNOTATION],
            "key": "NVIDIA_VISIBLE_DEVICES",
            "optional": False,
        }


def test_the_gang_is_four_pods_started_together() -> None:
    job = WORKLOADS["ddp-train"]
    notes = job["spec"]["template"]["metadata"]["annotations"]
    assert job["spec"]["parallelism"] == job["spec"]["completions"] == 4
    assert notes["quotient.io/gang-size"] == "4" and notes["quotient.io/gang"] == "ddp-train"


def test_every_example_lives_in_the_namespace_mapped_to_a_project() -> None:
    (namespace,) = [d.obj for d in EXAMPLES if d.obj["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["quotient.io/project"] == "team-a"
    names = {d.obj["metadata"].get("namespace") for d in EXAMPLES if d.obj["kind"] != "Namespace"}
    assert names == {namespace["metadata"]["name"]}


def test_the_kai_style_pod_names_its_queue_with_kais_label() -> None:
    pod = WORKLOADS["gpu-sharing"]
    assert pod["metadata"]["labels"] == {"kai.scheduler/queue": "team-a"}
