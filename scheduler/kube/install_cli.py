"""`quotient webhook` and `quotient certs`: the commands that install Quotient on a cluster.

Owns turning their options into a running webhook server or a certificate bundle, and their
errors into one clear line (exit 2), never a traceback. It must not hold admission rules
(admission.py), serving (webhook.py) or certificate making (certs.py).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import yaml

from scheduler.kube import certs
from scheduler.kube.webhook import CertificateError, make_server


def webhook(
    cert_dir: Annotated[
        Path, typer.Option(help="Directory holding tls.crt and tls.key (a mounted TLS Secret)")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on")] = "0.0.0.0",
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTPS port")] = 8443,
    scheduler_name: Annotated[str, typer.Option(help="Pods with this schedulerName are ours")] = (
        "quotient"
    ),
    log_level: Annotated[str, typer.Option(help="debug | info | warning")] = "info",
) -> None:
    """Serve the mutating admission webhook over TLS (POST /mutate, GET /healthz)."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    try:
        server = make_server(cert_dir, host, port, scheduler_name)
    except (CertificateError, OSError) as e:
        typer.echo(f"error: --cert-dir: {e}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.start()
    logging.info(
        "webhook serving https://%s:%d/mutate for %s pods", host, server.port, scheduler_name
    )
    stop.wait()
    server.shutdown()
    server.server_close()


def certs_command(
    out: Annotated[
        Path | None, typer.Option(help="Write ca.crt, tls.crt, tls.key and secret.yaml here")
    ] = None,
    apply: Annotated[
        bool, typer.Option(help="Create the Secret and patch the webhook's caBundle in the cluster")
    ] = False,
    namespace: Annotated[str, typer.Option(help="Namespace of the webhook Service")] = (
        certs.NAMESPACE
    ),
    service: Annotated[str, typer.Option(help="Name of the webhook Service")] = certs.SERVICE,
    secret: Annotated[str, typer.Option(help="Name of the TLS Secret")] = certs.SECRET,
    configuration: Annotated[
        str, typer.Option(help="MutatingWebhookConfiguration to patch")
    ] = certs.WEBHOOK_CONFIGURATION,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity of the certificates")] = 825,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="Kubeconfig (default: ~/.kube/config)")
    ] = None,
) -> None:
    """Make a self-signed CA and the webhook's serving certificate (no cert-manager needed)."""
    if out is None and not apply:
        typer.echo("error: nothing to do: give --out DIR, --apply, or both", err=True)
        raise typer.Exit(2)
    bundle = certs.make_bundle(certs.service_names(service, namespace), days=days)
    if out is not None:
        _write(bundle, out, secret, namespace)
    if apply:
        _apply(bundle, kubeconfig, namespace, secret, configuration)


def _write(bundle: certs.CertBundle, out: Path, secret: str, namespace: str) -> None:
    try:
        certs.write_dir(bundle, out)
        manifest = certs.secret_manifest(bundle, secret, namespace)
        (out / "secret.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    except OSError as e:
        typer.echo(f"error: --out: {e.filename}: {e.strerror}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out}/ca.crt, tls.crt, tls.key and secret.yaml")


def _apply(
    bundle: certs.CertBundle,
    kubeconfig: Path | None,
    namespace: str,
    secret: str,
    configuration: str,
) -> None:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from scheduler.kube.config import ClusterConfigError, api_client

    try:
        api = api_client(kubeconfig)  # a kubeconfig, else in-cluster (an install Job)
        count = certs.install(
            api, bundle, namespace=namespace, secret=secret, configuration=configuration
        )
    except ClusterConfigError as e:
        typer.echo(f"error: --kubeconfig: {e}", err=True)
        raise typer.Exit(2) from None
    except ApiException as e:
        typer.echo(f"error: the API server answered {e.status} {e.reason}: {_message(e)}", err=True)
        raise typer.Exit(2) from None
    except (OSError, HTTPError) as e:  # connection refused, DNS: one line, not a traceback
        typer.echo(f"error: cannot reach the API server: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"secret {namespace}/{secret} written; caBundle set on {count} webhook(s) of "
        f"{configuration}"
    )


def _message(e: object) -> str:
    import json

    body = getattr(e, "body", None) or ""
    try:
        return str(json.loads(body).get("message", body))
    except (ValueError, AttributeError):
        return str(body)[:200]


def register(app: typer.Typer) -> None:
    app.command("webhook")(webhook)
    app.command("certs")(certs_command)
