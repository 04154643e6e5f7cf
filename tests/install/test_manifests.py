"""manifests/ installs as documented: every document validates against the Kubernetes OpenAPI
schema of a current release (offline, with kubernetes-validate), the Kustomizations name
files that exist and leave none out, and the names and ports that must agree do."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml

from tests.install.manifests import (
    MANIFESTS,
    ROOT,
    Doc,
    base_docs,
    docs,
    find,
    flag,
    kustomizations,
    of_kind,
    pod_specs,
    resources_of,
    yaml_files,
)

K8S_VERSION = "1.33.0"  # a current release; the webhook's matchConditions need 1.30+
CRDS = {"cert-manager.io/v1"}  # not in the core schema: checked by shape below
IMAGE = "ghcr.io/quotient/quotient"


def _schema_docs() -> list[Any]:
    return [pytest.param(d, id=d.where) for d in docs() if d.obj["apiVersion"] not in CRDS]


@pytest.mark.parametrize("doc", _schema_docs())
def test_every_document_validates_against_the_kubernetes_schema(doc: Doc) -> None:
    try:
        kubernetes_validate.validate(doc.obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = "/".join(map(str, e.absolute_path))
        pytest.fail(f"{doc.where}: {path}: {e.message}")


def test_cert_manager_documents_have_the_fields_cert_manager_requires() -> None:
    certificate = find("Certificate", "quotient-webhook", docs())
    assert (
        certificate["spec"]["secretName"]
        == find("Deployment", "quotient-webhook")["spec"]["template"]["spec"]["volumes"][0][
            "secret"
        ]["secretName"]
    )
    issuer = certificate["spec"]["issuerRef"]
    assert find(issuer["kind"], issuer["name"], docs())["spec"] == {"selfSigned": {}}
    service = find("Service", "quotient-webhook")
    ns = service["metadata"]["namespace"]
    assert f"{service['metadata']['name']}.{ns}.svc" in certificate["spec"]["dnsNames"]


@pytest.mark.parametrize("kustomization", kustomizations(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_kustomization_names_only_files_that_exist(kustomization: Any) -> None:
    missing = [str(p) for p in resources_of(kustomization) if not p.exists()]
    assert not missing


def test_every_manifest_file_is_installed_by_some_kustomization() -> None:
    listed = {p for k in kustomizations() for p in resources_of(k) if p.is_file()}
    orphans = [str(p.relative_to(ROOT)) for p in yaml_files() if p not in listed]
    assert not orphans, f"not in any kustomization.yaml: {orphans}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_the_same_objects() -> None:
    """And the reservation image follows the scheduler's image (the kustomization copies it)."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    objects = list(yaml.safe_load_all(out))
    rendered = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert rendered == sorted((d.obj["kind"], d.obj["metadata"]["name"]) for d in base_docs())
    (scheduler,) = [
        o
        for o in objects
        if o["metadata"]["name"] == "quotient-scheduler" and o["kind"] == "Deployment"
    ]
    container = scheduler["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["QUOTIENT_RESERVATION_IMAGE"] == container["image"]


# ------------------------------------------------------------------ what must agree


def _containers() -> list[tuple[str, Any]]:
    return [
        (obj["metadata"]["name"], c)
        for obj in of_kind("Deployment")
        for spec in pod_specs(obj)
        for c in spec["containers"]
    ]


def test_every_image_is_the_one_the_kustomization_sets() -> None:
    images = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["images"]
    assert [i["name"] for i in images] == [IMAGE]
    for name, c in _containers():
        assert c["image"].rsplit(":", 1)[0] == IMAGE, name


def _selected(service: Any) -> Any:
    chosen = [
        d
        for d in of_kind("Deployment")
        if service["spec"]["selector"].items()
        <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(chosen) == 1, f"Service {service['metadata']['name']} selects {len(chosen)}"
    return chosen[0]


@pytest.mark.parametrize("service", of_kind("Service"), ids=lambda s: s["metadata"]["name"])
def test_each_service_targets_a_named_port_of_the_deployment_it_selects(service: Any) -> None:
    deployment = _selected(service)
    ports = {
        p["name"]: p["containerPort"]
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
    }
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports, port


def _container_port(deployment: str, name: str) -> int:
    for c in find("Deployment", deployment)["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports", []):
            if p["name"] == name:
                return int(p["containerPort"])
    raise AssertionError(f"{deployment} has no port {name}")


def _args(deployment: str) -> list[str]:
    return list(find("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]["args"])


def test_each_command_listens_on_the_port_its_container_declares() -> None:
    assert int(flag(_args("quotient-webhook"), "--port")) == _container_port(
        "quotient-webhook", "https"
    )
    assert int(flag(_args("quotient-api"), "--port")) == _container_port("quotient-api", "http")
    assert int(flag(_args("quotient-scheduler"), "--metrics-port")) == _container_port(
        "quotient-scheduler", "metrics"
    )


def test_the_webhook_configuration_calls_the_webhook_service_on_its_route() -> None:
    (hook,) = find("MutatingWebhookConfiguration", "quotient")["webhooks"]
    target = hook["clientConfig"]["service"]
    service = find("Service", target["name"])
    assert service["metadata"]["namespace"] == target["namespace"]
    assert target["port"] in [p["port"] for p in service["spec"]["ports"]]
    assert target["path"] == "/mutate"  # the route scheduler.kube.webhook serves
    assert hook["failurePolicy"] == "Fail"
    assert hook["admissionReviewVersions"] == ["v1"] and hook["sideEffects"] == "None"
    assert hook["rules"] == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["pods"],
            "scope": "Namespaced",
        }
    ]
    excluded = hook["namespaceSelector"]["matchExpressions"][0]
    assert excluded["operator"] == "NotIn" and target["namespace"] in excluded["values"]
    scheduler = flag(_args("quotient-scheduler"), "--scheduler-name")
    assert flag(_args("quotient-webhook"), "--scheduler-name") == scheduler
    assert [m["expression"] for m in hook["matchConditions"]] == [
        f"object.spec.schedulerName == '{scheduler}'"
    ]


def test_the_scheduler_reaches_the_api_service_and_mounts_its_token() -> None:
    url = urlparse(flag(_args("quotient-scheduler"), "--api"))
    service = find("Service", "quotient-api")
    assert url.hostname == f"quotient-api.{service['metadata']['namespace']}.svc"
    assert url.port in [p["port"] for p in service["spec"]["ports"]]
    token = flag(_args("quotient-scheduler"), "--token-file")
    spec = find("Deployment", "quotient-scheduler")["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    (volume,) = [v for v in spec["volumes"] if v["name"] == "token"]
    assert token == f"{mounts['token']}/{volume['secret']['items'][0]['path']}"


def test_the_scheduler_runs_two_replicas_under_leader_election_and_a_pdb() -> None:
    deployment = find("Deployment", "quotient-scheduler")
    assert deployment["spec"]["replicas"] == 2
    assert "--leader-elect" in _args("quotient-scheduler")
    pdb = find("PodDisruptionBudget", "quotient-scheduler")
    assert pdb["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("name", [d["metadata"]["name"] for d in of_kind("Deployment")])
def test_every_deployment_runs_hardened(name: str) -> None:
    spec = find("Deployment", name)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    for c in spec["containers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"])
        assert "livenessProbe" in c and "readinessProbe" in c


def test_the_priority_classes_are_the_four_workload_kinds_in_order() -> None:
    values = {p["metadata"]["name"]: p["value"] for p in of_kind("PriorityClass")}
    assert sorted(values, key=values.__getitem__) == ["train", "interactive", "build", "inference"]
    assert all(p["preemptionPolicy"] == "Never" for p in of_kind("PriorityClass"))


def test_the_image_is_built_slim_and_runs_as_the_manifests_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert bases and all(b.startswith("python:") and b.endswith("-slim") for b in bases)
    (user,) = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    uids = {
        spec["securityContext"]["runAsUser"] for d in of_kind("Deployment") for spec in pod_specs(d)
    }
    assert uids == {int(user.split(":")[0])} and 0 not in uids


@pytest.mark.parametrize("name", [d["metadata"]["name"] for d in of_kind("Deployment")])
def test_each_deployment_command_is_one_the_cli_accepts(name: str) -> None:
    import typer

    from quotient.cli import build_app

    app = typer.main.get_command(build_app())
    container = find("Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    args = list(container["args"])
    command = app.get_command(app.context_class(app), args[0])  # type: ignore[attr-defined]
    assert command is not None, f"quotient has no command {args[0]!r}"
    command.make_context(args[0], args[1:])  # raises on an unknown option or a bad value
    declared = {
        v
        for p in command.params
        for v in ([p.envvar] if isinstance(p.envvar, str) else (p.envvar or []))
    }
    plain = {e["name"] for e in container.get("env", []) if e["name"].startswith("QUOTIENT_")}
    assert plain <= declared | {"QUOTIENT_TOKENS", "QUOTIENT_DB_URL"}, "an env var nothing reads"
