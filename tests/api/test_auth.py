"""Bearer tokens and roles: who may read, who may write, and what start-up refuses.

The role table runs on SQLite and PostgreSQL; token parsing needs no database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import ConfigError, create_app
from api.auth import Role, TokenFormatError, TokenStore, parse_tokens
from api.settings import Settings
from quotient.cli import build_app
from tests.api.conftest import TOKENS, auth, department, project
from tests.api.helpers import create

STATUS = {"cycle_at": 1, "capacity_gpus": 8, "projects": [], "pending": []}
# (method, path, body); the department and project "seed" exist before each call
CALLS = {
    "list projects": ("GET", "/api/v1/projects", None),
    "read a project": ("GET", "/api/v1/projects/seed", None),
    "create a project": ("POST", "/api/v1/projects", project("new")),
    "update a project": ("PATCH", "/api/v1/projects/seed", {"priority": 1}),
    "delete a project": ("DELETE", "/api/v1/projects/seed", None),
    "create a department": ("POST", "/api/v1/departments", department("new-dept")),
    "read the quota tree": ("GET", "/api/v1/quota-tree", None),
    "report status": ("PUT", "/api/v1/status", STATUS),
    "read status": ("GET", "/api/v1/status", None),
    "read the audit log": ("GET", "/api/v1/audit", None),
    "scrape metrics": ("GET", "/metrics", None),
}
OK = {"GET": 200, "POST": 201, "PATCH": 200, "DELETE": 204, "PUT": 204}
# call -> roles allowed; everyone else with a valid token gets 403
ALLOWED = {
    "list projects": {"admin", "viewer"},
    "read a project": {"admin", "viewer"},
    "create a project": {"admin"},
    "update a project": {"admin"},
    "delete a project": {"admin"},
    "create a department": {"admin"},
    "read the quota tree": {"admin", "viewer", "scheduler"},
    "report status": {"scheduler"},
    "read status": {"admin", "viewer"},
    "read the audit log": {"admin", "viewer"},
    "scrape metrics": {"admin", "viewer", "scheduler"},
}
CASES = [
    pytest.param(call, role, OK[CALLS[call][0]] if role in ALLOWED[call] else 403,
                 id=f"{role} may {call}" if role in ALLOWED[call] else f"{role} may not {call}")
    for call in CALLS for role in ("admin", "viewer", "scheduler")
]


@pytest.mark.parametrize(("call", "role", "expected"), CASES)
def test_roles(client: TestClient, call: str, role: str, expected: int) -> None:
    create(client, "projects", project("seed"))
    method, path, body = CALLS[call]

    response = client.request(method, path, json=body, headers=auth(role))

    assert response.status_code == expected, response.text


NO_ENTRY = [
    pytest.param({}, id="no Authorization header"),
    pytest.param({"Authorization": "Bearer not-a-token"}, id="an unknown token"),
    pytest.param({"Authorization": f"Basic {TOKENS['admin']}"}, id="not a bearer scheme"),
    pytest.param({"Authorization": "Bearer "}, id="an empty bearer token"),
]


@pytest.mark.parametrize("headers", NO_ENTRY)
@pytest.mark.parametrize("call", ["list projects", "create a project", "report status"])
def test_a_missing_or_wrong_token_gets_401(
    client: TestClient, headers: dict[str, str], call: str
) -> None:
    method, path, body = CALLS[call]

    response = client.request(method, path, json=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"][0]["field"] == "Authorization"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json"])
def test_health_and_docs_need_no_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_metrics_can_be_made_public(settings: Settings) -> None:
    public = create_app(settings.model_copy(update={"metrics_public": True}))
    with TestClient(public) as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/v1/projects").status_code == 401


# --------------------------------------------------------------- token parsing


PAIRS = [
    pytest.param("admin:a1,viewer:v1", {Role.ADMIN, Role.VIEWER}, id="comma separated"),
    pytest.param("admin:a1\n\nscheduler:s1\n", {Role.ADMIN, Role.SCHEDULER},
                 id="line separated with blank lines"),
    pytest.param("# tokens\nviewer:v1  # read-only\n", {Role.VIEWER},
                 id="comments are ignored"),
    pytest.param(" ADMIN : a1 ", {Role.ADMIN}, id="roles are case-insensitive, spaces trimmed"),
    pytest.param("admin:a:b", {Role.ADMIN}, id="a token may contain a colon"),
]


@pytest.mark.parametrize(("text", "roles"), PAIRS)
def test_token_pairs_parse(text: str, roles: set[Role]) -> None:
    assert {t.role for t in parse_tokens(text, source="test")} == roles


BAD_PAIRS = [
    pytest.param("root:x", "unknown role 'root'", id="an unknown role is named"),
    pytest.param("admin", "expected role:token", id="a pair without a token"),
    pytest.param("admin:", "expected role:token", id="an empty token"),
    pytest.param("admin:two words", "whitespace", id="a token with a space"),
]


@pytest.mark.parametrize(("text", "message"), BAD_PAIRS)
def test_bad_token_pairs_are_refused_without_echoing_the_token(text: str, message: str) -> None:
    with pytest.raises(TokenFormatError, match=message) as caught:
        parse_tokens(text, source="QUOTIENT_TOKENS")
    assert "two words" not in str(caught.value)


def test_only_hashes_are_kept() -> None:
    hashes = parse_tokens("admin:plain-secret", source="test")
    store = TokenStore(hashes)

    assert "plain-secret" not in repr(hashes) + repr(vars(store))
    assert store.principal("plain-secret") is not None
    assert store.principal("plain-secreT") is None


def test_settings_read_the_environment_and_the_tokens_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("viewer:from-file\n")
    monkeypatch.setenv("QUOTIENT_TOKENS", "admin:from-env")

    settings = Settings(tokens_file=tokens_file)

    assert {t.role for t in settings.tokens} == {Role.ADMIN, Role.VIEWER}
    assert "from-env" not in repr(settings) and "from-file" not in repr(settings)


def test_the_app_refuses_to_start_without_tokens(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no API tokens"):
        create_app(Settings(db_url=f"sqlite:///{tmp_path / 'q.db'}", tokens=""))


def test_serve_refuses_to_start_without_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUOTIENT_TOKENS", raising=False)

    result = CliRunner().invoke(build_app(), ["serve", "--data-dir", str(tmp_path)])

    assert result.exit_code == 2
    assert "no API tokens" in result.output


def test_serve_reports_a_bad_tokens_file(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("superuser:x\n")

    result = CliRunner().invoke(build_app(), ["serve", "--tokens-file", str(tokens_file)])

    assert result.exit_code == 2
    assert "unknown role 'superuser'" in result.output


def test_serve_starts_with_a_tokens_file_db_url_host_and_port(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("viewer:look\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTIENT_")}
    command = [sys.executable, "-m", "quotient", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--db", f"sqlite:///{tmp_path / 'served.db'}",
               "--tokens-file", str(tokens_file), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    try:
        status = _wait_for(f"http://127.0.0.1:{port}/api/v1/projects", "look", process)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert status == 200
    assert (tmp_path / "served.db").exists()


def _wait_for(url: str, token: str, process: subprocess.Popen[bytes]) -> int:
    for _ in range(300):
        assert process.poll() is None, "quotient serve exited"
        try:
            return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("quotient serve did not answer within 15 s")
