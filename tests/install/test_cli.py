"""`quotient certs` and `quotient webhook` from the command line: files written, and bad
input as one clear line with exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography import x509
from typer.testing import CliRunner

from quotient.cli import build_app
from scheduler.kube import certs


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def test_certs_out_writes_a_pair_for_the_service_and_its_secret(tmp_path: Path) -> None:
    code, out = _run("certs", "--out", str(tmp_path), "--namespace", "ops", "--days", "30")
    assert code == 0, out
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == list(certs.service_names(namespace="ops"))
    assert (tmp_path / "tls.key").stat().st_mode & 0o077 == 0
    secret = yaml.safe_load((tmp_path / "secret.yaml").read_text())
    assert secret["metadata"] == {
        "name": "quotient-webhook-tls",
        "namespace": "ops",
        "labels": {"app.kubernetes.io/part-of": "quotient"},
    }
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 29 < lifetime.days <= 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("certs",), "error: nothing to do", id="certs with nothing to do"),
        pytest.param(
            ("certs", "--out", "/proc/no/such/dir"),
            "error: --out:",
            id="certs into a directory that cannot be made",
        ),
        pytest.param(
            ("certs", "--apply", "--kubeconfig", "/no/such/kubeconfig"),
            "error: --kubeconfig:",
            id="certs --apply without a kubeconfig",
        ),
        pytest.param(
            ("webhook", "--cert-dir", "/no/such/dir"),
            "error: --cert-dir:",
            id="a webhook without certificates",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    code, out = _run(*args)
    assert code == 2
    assert out.startswith(message) and len(out.strip().splitlines()) == 1, out
