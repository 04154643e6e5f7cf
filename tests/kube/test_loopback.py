"""The loopback apiserver answers as kube-apiserver does, through the real client.

These are the semantics the scheduler relies on; each row names the apiserver behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scheduler.kube.config import done, loopback_client
from scheduler.kube.loopback.server import LoopbackApiServer
from tests.kube.builders import node_obj, pod_obj


@pytest.fixture
def core(apiserver: LoopbackApiServer) -> Any:
    return client.CoreV1Api(loopback_client(apiserver.url))


def _binding(name: str, node: str = "node-1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"kind": "Node", "name": node},
    }


def _bind(core: Any, pod: str, name: str | None = None) -> Any:
    return done(
        core.create_namespaced_pod_binding(
            pod, "team-a", _binding(name or pod), _preload_content=False
        )
    )


CASES: list[tuple[str, Callable[[Any, LoopbackApiServer], Any], int]] = [
    (
        "a duplicate create is 409 AlreadyExists",
        lambda c, s: c.create_namespaced_pod("team-a", pod_obj("p")),
        409,
    ),
    ("a second binding of a bound pod is 409 Conflict", lambda c, s: _bind(c, "p"), 409),
    (
        "a Binding whose metadata.name is not the pod's is 400",
        lambda c, s: _bind(c, "q", name="other"),
        400,
    ),
    ("binding a missing pod is 404", lambda c, s: _bind(c, "missing"), 404),
    ("reading a missing pod is 404", lambda c, s: c.read_namespaced_pod("missing", "team-a"), 404),
    (
        "nvidia.com/gpu in requests but not in limits is 422",
        lambda c, s: c.create_namespaced_pod(
            "team-a",
            {
                **pod_obj("r", gpus=None),
                "spec": {
                    "containers": [
                        {
                            "name": "m",
                            "image": "i",
                            "resources": {"requests": {"nvidia.com/gpu": "1"}},
                        }
                    ]
                },
            },
        ),
        422,
    ),
    (
        "creating into a missing namespace is 404",
        lambda c, s: c.create_namespaced_pod("nowhere", pod_obj("x", "nowhere")),
        404,
    ),
    (
        "a PUT with a stale resourceVersion is 409",
        lambda c, s: c.replace_namespaced_pod(
            "q",
            "team-a",
            {
                **pod_obj("q"),
                "metadata": {"name": "q", "namespace": "team-a", "resourceVersion": "1"},
            },
        ),
        409,
    ),
]


@pytest.mark.parametrize(("case", "call", "code"), CASES, ids=[c[0] for c in CASES])
def test_errors_carry_the_apiservers_codes(
    apiserver: LoopbackApiServer, core: Any, case: str, call: Callable[..., Any], code: int
) -> None:
    apiserver.put("/pods", pod_obj("p"), "team-a")
    apiserver.put("/pods", pod_obj("q"), "team-a")
    _bind(core, "p")
    with pytest.raises(ApiException) as info:
        call(core, apiserver)
    assert info.value.status == code
    status = json.loads(info.value.body)  # a Status object, as text in client 37
    assert status["kind"] == "Status" and status["code"] == code


def test_binding_answers_a_status_and_sets_the_node(
    apiserver: LoopbackApiServer, core: Any
) -> None:
    apiserver.put("/pods", pod_obj("p"), "team-a")
    reply = json.loads(_bind(core, "p"))
    assert reply["kind"] == "Status" and reply["status"] == "Success"
    pod = core.read_namespaced_pod("p", "team-a")  # the client's model parses the complete pod
    assert pod.spec.node_name == "node-1" and pod.status.phase == "Running"


def test_selectors_filter_lists(apiserver: LoopbackApiServer, core: Any) -> None:
    apiserver.put("/pods", pod_obj("a", labels={"tier": "x"}), "team-a")
    apiserver.put("/pods", pod_obj("b", labels={"tier": "y"}, scheduler="other"), "team-a")
    apiserver.put("/pods", pod_obj("c"), "team-b")

    def names(**kw: str) -> list[str]:
        body = json.loads(done(core.list_pod_for_all_namespaces(_preload_content=False, **kw)))
        return [p["metadata"]["name"] for p in body["items"]]

    assert names(label_selector="tier in (x,y)") == ["a", "b"]
    assert names(label_selector="tier!=x") == ["b", "c"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="spec.schedulerName=quotient") == ["a", "c"]
    assert names(field_selector="metadata.namespace=team-b") == ["c"]


def _watch(core: Any, **kw: Any) -> list[dict[str, Any]]:
    response = core.list_namespaced_pod("team-a", watch=True, _preload_content=False, **kw)
    return [json.loads(line) for line in done(response).splitlines() if line.strip()]


def test_watch_replays_history_ends_at_timeout_and_sends_bookmarks(
    apiserver: LoopbackApiServer, core: Any
) -> None:
    first = apiserver.put("/pods", pod_obj("a"), "team-a")
    apiserver.put("/pods", pod_obj("b"), "team-a")
    events = _watch(
        core,
        resource_version=first["metadata"]["resourceVersion"],
        timeout_seconds=1,
        allow_watch_bookmarks=True,
    )
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "b"
    assert (
        events[-1]["type"] == "BOOKMARK" and "resourceVersion" in events[-1]["object"]["metadata"]
    )


def test_a_watch_from_a_compacted_revision_gets_410_gone(
    apiserver: LoopbackApiServer, core: Any
) -> None:
    old = apiserver.put("/pods", pod_obj("a"), "team-a")["metadata"]["resourceVersion"]
    apiserver.store.compact()
    events = _watch(core, resource_version=old, timeout_seconds=1)
    assert [e["type"] for e in events] == ["ERROR"] and events[0]["object"]["code"] == 410


def test_an_eviction_under_a_budget_is_429_and_otherwise_deletes(
    apiserver: LoopbackApiServer, core: Any
) -> None:
    apiserver.put("/nodes", node_obj("node-1"))
    for name in ("a", "b"):
        apiserver.put("/pods", pod_obj(name, labels={"app": "x"}), "team-a")
        _bind(core, name)
    pdb = {
        "metadata": {"name": "keep-2"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "x"}}},
    }
    apiserver.put("policy/poddisruptionbudgets", pdb, "team-a")
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod_eviction("a", "team-a", body, _preload_content=False)
    assert info.value.status == 429 and "disruption budget" in info.value.body
    apiserver.store.delete("policy/poddisruptionbudgets", "team-a", "keep-2")
    done(core.create_namespaced_pod_eviction("a", "team-a", body, _preload_content=False))
    assert apiserver.store.find("/pods", "team-a", "a") is None
