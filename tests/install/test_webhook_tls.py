"""The webhook served over TLS on loopback, driven by real TLS clients: httpx trusting a
trustme CA, and the standard library verifying our own `quotient certs` bundle by the
Service's DNS name, as the API server does; certificate rotation without a restart."""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from scheduler.kube import certs
from scheduler.kube.webhook import CertificateError, WebhookServer, make_server
from tests.install.builders import env_of, patched, pod, review_of


@pytest.fixture
def trust(tmp_path: Path) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    leaf.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    return ca, tmp_path


@pytest.fixture
def server(trust: tuple[trustme.CA, Path]) -> Iterator[WebhookServer]:
    srv = make_server(trust[1], "127.0.0.1", 0)
    srv.start(poll_interval=0.02)
    yield srv
    srv.shutdown()
    srv.server_close()


def _client(ca: trustme.CA) -> httpx.Client:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return httpx.Client(verify=context, timeout=5)


def test_a_real_client_gets_a_patch_over_tls(
    server: WebhookServer, trust: tuple[trustme.CA, Path]
) -> None:
    obj = pod("nb", annotations={"gpu-fraction": "0.5"})
    with _client(trust[0]) as http:
        reply = http.post(f"https://127.0.0.1:{server.port}/mutate", json=review_of(obj))
        again = http.post(f"https://127.0.0.1:{server.port}/mutate", json=review_of(obj))
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    response = reply.json()["response"]
    assert response["allowed"] is True
    assert env_of(patched(obj, response))["GPU_FRACTION"]["configMapKeyRef"]["name"] == "nb-gpu"
    assert again.json() == reply.json()  # the kept-alive connection answers the same


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("GET", "/healthz", None, 200, id="the health probe answers 200"),
        pytest.param("POST", "/other", {}, 404, id="an unknown path is 404"),
        pytest.param("POST", "/mutate", None, 400, id="a POST without a body is 400"),
        pytest.param("POST", "/mutate", {"kind": "Pod"}, 400, id="a body that is not a review"),
    ],
)
def test_routes_answer_as_the_api_server_expects(
    server: WebhookServer,
    trust: tuple[trustme.CA, Path],
    method: str,
    path: str,
    body: object,
    status: int,
) -> None:
    with _client(trust[0]) as http:
        reply = http.request(method, f"https://127.0.0.1:{server.port}{path}", json=body)
    assert reply.status_code == status
    assert reply.json()  # always a JSON body saying what happened


def test_a_client_that_does_not_trust_the_ca_is_refused(server: WebhookServer) -> None:
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=5) as http:
        http.get(f"https://127.0.0.1:{server.port}/healthz")


def test_plain_http_gets_no_answer_and_the_server_keeps_serving(
    server: WebhookServer, trust: tuple[trustme.CA, Path]
) -> None:
    with pytest.raises(httpx.HTTPError), httpx.Client(timeout=5) as plain:
        plain.get(f"http://127.0.0.1:{server.port}/healthz")
    with _client(trust[0]) as http:
        assert http.get(f"https://127.0.0.1:{server.port}/healthz").status_code == 200


SERVICE_NAME = "quotient-webhook.quotient-system.svc"


def _get_healthz(port: int, ca_pem: bytes) -> int:
    """GET /healthz, verifying the certificate by the Service name the API server dials."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=SERVICE_NAME) as tls,
    ):
        tls.sendall(
            f"GET /healthz HTTP/1.1\r\nHost: {SERVICE_NAME}\r\nConnection: close\r\n\r\n".encode()
        )
        head = tls.recv(4096).decode()
    return int(head.split()[1])


def _write_bundle(directory: Path, bundle: certs.CertBundle, stamp: int) -> None:
    certs.write_dir(bundle, directory)
    for name in ("tls.crt", "tls.key"):  # a rotation is a newer file, whatever the clock says
        os.utime(directory / name, (stamp, stamp))


def test_our_own_certificates_serve_the_service_name_and_rotate_in_place(tmp_path: Path) -> None:
    first = certs.make_bundle(certs.service_names())
    _write_bundle(tmp_path, first, 1_000_000)
    srv = make_server(tmp_path, "127.0.0.1", 0)
    srv.start(poll_interval=0.02)
    try:
        assert _get_healthz(srv.port, first.ca_pem) == 200
        second = certs.make_bundle(certs.service_names())
        _write_bundle(tmp_path, second, 2_000_000)
        assert _get_healthz(srv.port, second.ca_pem) == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            _get_healthz(srv.port, first.ca_pem)
        # Both CAs in one bundle, as `quotient certs --apply` leaves caBundle mid-rotation.
        assert _get_healthz(srv.port, certs.trusted_bundle(second, first.ca_pem)) == 200
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_half_written_rotation_keeps_serving_the_previous_pair(tmp_path: Path) -> None:
    bundle = certs.make_bundle(certs.service_names())
    _write_bundle(tmp_path, bundle, 1_000_000)
    srv = make_server(tmp_path, "127.0.0.1", 0)
    srv.start(poll_interval=0.02)
    try:
        (tmp_path / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\ntruncated")
        os.utime(tmp_path / "tls.crt", (3_000_000, 3_000_000))
        assert _get_healthz(srv.port, bundle.ca_pem) == 200
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param({}, "tls.crt: cannot read it", id="an empty directory names the missing file"),
        pytest.param(
            {"tls.crt": b"x", "tls.key": b"y"},
            "not a usable pair",
            id="files that are not a certificate pair are refused",
        ),
    ],
)
def test_a_bad_cert_dir_is_a_clear_error(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(CertificateError, match=message):
        make_server(tmp_path, "127.0.0.1", 0)


def test_the_secret_manifest_holds_what_the_webhook_mounts() -> None:
    bundle = certs.make_bundle(certs.service_names())
    secret = certs.secret_manifest(bundle)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    assert json.dumps(secret)  # plain JSON: base64 strings, no bytes


def _certs_in(pem: bytes) -> int:
    from cryptography import x509

    return len(x509.load_pem_x509_certificates(pem))


@pytest.mark.parametrize(
    ("previous", "count"),
    [
        pytest.param(None, 1, id="a first install trusts the new CA alone"),
        pytest.param("other", 2, id="a rotation trusts the new CA and the one before it"),
        pytest.param("same", 1, id="re-applying the same CA does not repeat it"),
        pytest.param("garbage", 1, id="an unreadable old caBundle is replaced"),
    ],
)
def test_the_ca_bundle_keeps_the_previous_ca_during_a_rotation(
    previous: str | None, count: int
) -> None:
    new = certs.make_bundle(certs.service_names())
    old = {
        None: None,
        "other": certs.make_bundle(certs.service_names()).ca_pem,
        "same": new.ca_pem,
        "garbage": b"not a certificate",
    }[previous]
    trusted = certs.trusted_bundle(new, old)
    assert _certs_in(trusted) == count and trusted.startswith(new.ca_pem)


def test_the_ca_bundle_patch_sets_every_webhook_by_index() -> None:
    ops = certs.ca_bundle_patch(["a.quotient.io", "b.quotient.io"], b"PEM")
    assert [o["path"] for o in ops] == [
        "/webhooks/0/clientConfig/caBundle",
        "/webhooks/1/clientConfig/caBundle",
    ]
    assert {o["op"] for o in ops} == {"add"} and ops[0]["value"] == "UEVN"
