"""Certificates for the admission webhook without cert-manager: a CA, a serving pair, the
Secret that holds them and the `caBundle` the API server trusts.

Owns making a self-signed CA and a serving certificate for the webhook Service's DNS names
(with `cryptography`), writing them as the files of a `kubernetes.io/tls` Secret, and
installing them: create or replace the Secret and patch every webhook's
`clientConfig.caBundle` in the MutatingWebhookConfiguration. Installing runs with the
operator's credentials (`quotient certs --apply`), not the scheduler's, so the scheduler's
RBAC needs no Secret or webhook-configuration rights. It must not serve anything.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAMESPACE = "quotient-system"
SERVICE = "quotient-webhook"
SECRET = "quotient-webhook-tls"
WEBHOOK_CONFIGURATION = "quotient"
CA_FILE = "ca.crt"


@dataclass(frozen=True)
class CertBundle:
    """PEM bytes: the CA certificate, and the serving certificate and its key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def files(self) -> Mapping[str, bytes]:
        return {CA_FILE: self.ca_pem, "tls.crt": self.cert_pem, "tls.key": self.key_pem}


def service_names(service: str = SERVICE, namespace: str = NAMESPACE) -> tuple[str, ...]:
    """The names the API server may dial the Service by (it uses `svc.ns.svc`)."""
    return (
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    )


def make_bundle(
    names: tuple[str, ...], *, days: int = 825, now: dt.datetime | None = None
) -> CertBundle:
    """A fresh CA and a serving certificate for `names`, both valid for `days`.

    ECDSA P-256: fast to make, and what the API server's Go TLS client prefers.
    """
    if not names:
        raise ValueError("names: at least one DNS name is required")
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)  # clock skew
    end = start + dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "quotient-webhook-ca")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])])
    cert = (
        _builder(subject, ca_name, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return CertBundle(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public: Any, start: dt.datetime, end: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def write_dir(bundle: CertBundle, directory: Path) -> list[Path]:
    """Write ca.crt, tls.crt and tls.key (the key readable by its owner only)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in bundle.files().items():
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600 if name == "tls.key" else 0o644)
        written.append(path)
    return written


def secret_manifest(
    bundle: CertBundle, name: str = SECRET, namespace: str = NAMESPACE
) -> dict[str, Any]:
    """The `kubernetes.io/tls` Secret the webhook Deployment mounts."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "quotient"},
        },
        "data": {k: base64.b64encode(v).decode() for k, v in bundle.files().items()},
    }


def trusted_bundle(bundle: CertBundle, previous: bytes | None) -> bytes:
    """The new CA, followed by the first CA the API server trusted until now.

    Keeping the previous CA covers the minute or so the kubelet takes to update the mounted
    Secret: until then the webhook still serves the old certificate, and a caBundle naming
    only the new CA would fail every admission (the webhook fails closed).
    """
    if not previous:
        return bundle.ca_pem
    try:
        old = x509.load_pem_x509_certificates(previous)[0]
    except (ValueError, IndexError):
        return bundle.ca_pem
    if old.public_bytes(serialization.Encoding.PEM) == bundle.ca_pem:
        return bundle.ca_pem
    return bundle.ca_pem + old.public_bytes(serialization.Encoding.PEM)


def ca_bundle_patch(webhook_names: list[str], ca_pem: bytes) -> list[dict[str, Any]]:
    """JSON patch setting caBundle on each webhook of the configuration, by index."""
    encoded = base64.b64encode(ca_pem).decode()
    return [
        {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": encoded}
        for i, _ in enumerate(webhook_names)
    ]


def install(
    api_client: Any,
    bundle: CertBundle,
    *,
    namespace: str = NAMESPACE,
    secret: str = SECRET,
    configuration: str = WEBHOOK_CONFIGURATION,
) -> int:
    """Create or replace the Secret, then patch caBundle on every webhook; returns how many.

    The Secret goes first: a caBundle naming a CA whose certificate is not served yet would
    make every admission fail (the webhook fails closed) until the pods pick the Secret up.
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    manifest = secret_manifest(bundle, secret, namespace)
    body = client.V1Secret(
        api_version="v1",
        kind="Secret",
        type=manifest["type"],
        data=manifest["data"],
        metadata=client.V1ObjectMeta(**manifest["metadata"]),
    )
    try:
        core.replace_namespaced_secret(secret, namespace, body)
    except ApiException as e:
        if e.status != 404:
            raise
        core.create_namespaced_secret(namespace, body)
    admission = client.AdmissionregistrationV1Api(api_client)
    current = admission.read_mutating_webhook_configuration(configuration)
    webhooks = current.webhooks or []
    previous = webhooks[0].client_config.ca_bundle if webhooks else None
    ca_pem = trusted_bundle(bundle, base64.b64decode(previous) if previous else None)
    names = [w.name for w in webhooks]
    admission.patch_mutating_webhook_configuration(configuration, ca_bundle_patch(names, ca_pem))
    return len(names)
