"""Least privilege: the Roles in manifests/rbac.yaml grant exactly what scheduler/kube calls,
no more and no less, and never with a wildcard."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.install.manifests import ROOT, base_docs, find, of_kind
from tests.install.rbac_calls import (
    Triple,
    method_triples,
    module_triples,
    raw_triples,
    rules_triples,
)

KUBE = ROOT / "scheduler" / "kube"
# Modules that make no API call as the scheduler: pure code, the webhook (no token at
# all), `quotient certs`, `explain` and `snapshot` (the operator's kubeconfig), `bench`
# (the loopback double), and reserve.py (the reservation pods' own ServiceAccount).
NOT_THE_SCHEDULER = {
    "admission.py",
    "webhook.py",
    "certs.py",
    "install_cli.py",
    "sharing.py",
    "reserve.py",
    "explain.py",
    "snapshot.py",
    "bench.py",
}
RESERVATION = KUBE / "reserve.py"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "create_namespaced_pod_binding",
            [("", "pods/binding", "create")],
            id="a binding is create on pods/binding",
        ),
        pytest.param(
            "create_namespaced_pod_eviction",
            [("", "pods/eviction", "create")],
            id="an eviction is create on pods/eviction",
        ),
        pytest.param(
            "patch_namespaced_pod_status",
            [("", "pods/status", "patch")],
            id="a status patch is patch on pods/status",
        ),
        pytest.param(
            "list_pod_for_all_namespaces",
            [("", "pods", "list")],
            id="listing in every namespace is list on pods",
        ),
        pytest.param("read_node", [("", "nodes", "get")], id="read is get"),
        pytest.param(
            "replace_namespaced_lease",
            [("coordination.k8s.io", "leases", "update")],
            id="replace is update, in the Lease's group",
        ),
        pytest.param(
            "delete_namespaced_config_map",
            [("", "configmaps", "delete")],
            id="config_map is configmaps",
        ),
        pytest.param("read_namespaced_pod_log", [], id="an unknown resource is not guessed"),
        pytest.param("to_dict", [], id="a method that is no API call is nothing"),
    ],
)
def test_client_method_names_read_as_rbac(name: str, expected: list[Triple]) -> None:
    assert method_triples(name) == expected


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        pytest.param(
            "/api/v1/namespaces/{namespace}/pods/{name}/binding",
            "POST",
            [("", "pods/binding", "create")],
            id="a raw binding POST",
        ),
        pytest.param("/api/v1/nodes", "GET", [("", "nodes", "list")], id="a raw collection GET"),
        pytest.param(
            "/apis/events.k8s.io/v1/namespaces/{namespace}/events",
            "POST",
            [("events.k8s.io", "events", "create")],
            id="a raw call in a named group",
        ),
    ],
)
def test_raw_paths_read_as_rbac(path: str, method: str, expected: list[Triple]) -> None:
    assert raw_triples(path, method) == expected


def test_the_extractor_reads_calls_and_watched_lists(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f(core, w, ev):\n"
        "    w.stream(core.list_node, timeout_seconds=5)\n"
        "    core.create_namespaced_pod_binding('p', 'ns', body)\n"
        "    ev = client.EventsV1Api(api)\n"
        "    ev.create_namespaced_event('ns', body)\n"
    )
    assert module_triples(source) == {
        ("", "nodes", "list"),
        ("", "nodes", "watch"),
        ("", "pods/binding", "create"),
        ("events.k8s.io", "events", "create"),
    }


def test_no_rule_uses_a_wildcard() -> None:
    for role in of_kind("ClusterRole") + of_kind("Role"):
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (role["metadata"]["name"], rule)
            assert "resourceNames" not in rule or rule["resourceNames"]


def _granted(account: str) -> set[Triple]:
    """Every (group, resource, verb) the bindings give a ServiceAccount."""
    out: set[Triple] = set()
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in of_kind(kind):
            if any(s["name"] == account for s in binding["subjects"]):
                role = find(binding["roleRef"]["kind"], binding["roleRef"]["name"])
                out |= rules_triples(role["rules"])
    return out


def test_the_api_and_the_webhook_get_no_token_and_no_rights() -> None:
    for account in ("quotient-api", "quotient-webhook"):
        assert find("ServiceAccount", account)["automountServiceAccountToken"] is False
        assert _granted(account) == set()
        users = [
            d.obj
            for d in base_docs()
            if d.obj["kind"] == "Deployment"
            and d.obj["spec"]["template"]["spec"]["serviceAccountName"] == account
        ]
        assert users and all(
            u["spec"]["template"]["spec"]["automountServiceAccountToken"] is False for u in users
        )


def _called(paths: list[Path]) -> set[Triple]:
    return set().union(*(module_triples(p) for p in paths))


def _scheduler_modules() -> list[Path]:
    return [p for p in sorted(KUBE.glob("*.py")) if p.name not in NOT_THE_SCHEDULER]


def test_the_scheduler_is_granted_exactly_what_its_code_calls() -> None:
    called, granted = _called(_scheduler_modules()), _granted("quotient-scheduler")
    assert called, "the extractor found no call at all: it is broken"
    assert sorted(called - granted) == [], "calls the Roles do not allow"
    assert sorted(granted - called) == [], "rights no code uses"


def test_a_reservation_pod_may_only_record_its_gpu_on_itself() -> None:
    assert _granted("quotient-reservation") == _called([RESERVATION]) == {("", "pods", "patch")}


def test_the_reservation_pods_run_as_their_own_service_account() -> None:
    from scheduler.kube.fractional import ReservationSpec

    assert find("ServiceAccount", ReservationSpec().service_account)
    assert ReservationSpec().namespace == find("Namespace", "quotient-system")["metadata"]["name"]
