"""Bearer tokens and roles: who may read, who may write, and what start-up refuses.

The role table runs on SQLite and PostgreSQL; token parsing needs no database."""

from __future__ import annotations

import hashlib
import os
import re
import signal
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
from api.auth import ACTOR_PATTERN, Role, TokenFormatError, TokenStore, parse_tokens
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


A1, V1, S1 = "a1-0123456789abcdef", "v1-0123456789abcdef", "s1-0123456789abcdef"
PAIRS = [
    pytest.param(f"admin:{A1},viewer:{V1}", {Role.ADMIN, Role.VIEWER}, id="comma separated"),
    pytest.param(f"admin:{A1}\n\nscheduler:{S1}\n", {Role.ADMIN, Role.SCHEDULER},
                 id="line separated with blank lines"),
    pytest.param(f"# tokens\n  # read-only:\nviewer:{V1}\n", {Role.VIEWER},
                 id="comment lines are ignored"),
    pytest.param(f" ADMIN : {A1} ", {Role.ADMIN},
                 id="roles are case-insensitive, spaces trimmed"),
    pytest.param(f"admin:{A1}:b", {Role.ADMIN}, id="a token may contain a colon"),
    pytest.param(f"alice@admin:{A1}", {Role.ADMIN}, id="a token may have a name"),
]


@pytest.mark.parametrize(("text", "roles"), PAIRS)
def test_token_pairs_parse(text: str, roles: set[Role]) -> None:
    assert {t.role for t in parse_tokens(text, source="test")} == roles


BAD_PAIRS = [
    pytest.param("root:x", "unknown role 'root'", id="an unknown role is named"),
    pytest.param("admin", "expected role:token", id="a pair without a token"),
    pytest.param("admin:", "expected role:token", id="an empty token"),
    pytest.param("admin:two words", "whitespace", id="a token with a space"),
    pytest.param("admin:ab#cdef0123456789abc", "must not contain '#'",
                 id="a '#' inside a token is refused, not a silent truncation"),
    pytest.param("admin:x", "too weak (1 characters)", id="a one-character token"),
    pytest.param("admin:" + "a" * 32, "only 1 distinct characters",
                 id="a long token of one character"),
    pytest.param(f"admin:{A1}\nviewer:{A1}", "line 2: the same token as test line 1 (admin)",
                 id="the same token under two roles"),
    pytest.param(f"admin:{A1},admin:{A1}", "the same token", id="the same token twice"),
    pytest.param(f"Bad_Name@admin:{A1}", "must be a DNS label", id="a name that is no label"),
]


@pytest.mark.parametrize(("text", "message"), BAD_PAIRS)
def test_bad_token_pairs_are_refused_without_echoing_the_token(text: str, message: str) -> None:
    with pytest.raises(TokenFormatError, match=re.escape(message)) as caught:
        parse_tokens(text, source="test")
    assert "two words" not in str(caught.value) and A1 not in str(caught.value)
    assert "cdef0123" not in str(caught.value)


def test_only_hashes_are_kept() -> None:
    hashes = parse_tokens("admin:plain-secret-0123456", source="test")
    store = TokenStore(hashes)

    assert "plain-secret-0123456" not in repr(hashes) + repr(vars(store))
    assert store.principal("plain-secret-0123456") is not None
    assert store.principal("plain-secret-0123456X") is None


def test_settings_read_the_environment_and_the_tokens_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("viewer:from-file-0123456789\n")
    monkeypatch.setenv("QUOTIENT_TOKENS", "admin:from-env-0123456789")

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
    tokens_file.write_text("superuser:x-0123456789abcdef\n")

    result = CliRunner().invoke(build_app(), ["serve", "--tokens-file", str(tokens_file)])

    assert result.exit_code == 2
    assert "unknown role 'superuser'" in result.output


def test_serve_starts_with_a_tokens_file_and_reloads_it_on_sighup(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("viewer:look-0123456789abcdef\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTIENT_")}
    command = [sys.executable, "-m", "quotient", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--db", f"sqlite:///{tmp_path / 'served.db'}",
               "--tokens-file", str(tokens_file), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}/api/v1/projects"
    process = subprocess.Popen(command, env=env)
    try:
        status = _wait_for(url, "look-0123456789abcdef", process)
        tokens_file.write_text("viewer:seen-0123456789abcdef\n")
        process.send_signal(signal.SIGHUP)
        reloaded = _eventually(url, "seen-0123456789abcdef", process)
        old = _wait_for(url, "look-0123456789abcdef", process)
        tokens_file.write_text("viewer:x\n")  # weak: refused, the previous tokens stay
        process.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        kept = _wait_for(url, "seen-0123456789abcdef", process)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (status, reloaded, old, kept) == (200, 200, 401, 200)
    assert (tmp_path / "served.db").exists()


def _eventually(url: str, token: str, process: subprocess.Popen[bytes]) -> int:
    for _ in range(100):
        if (status := _wait_for(url, token, process)) == 200:
            return status
        time.sleep(0.05)
    return status


@pytest.mark.parametrize("mode", [0o666, 0o602], ids=["world-writable", "writable by others"])
def test_a_tokens_file_anyone_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("admin:a1-0123456789abcdef\n")
    tokens_file.chmod(mode)
    with pytest.raises(ValueError, match="anyone may write it"):
        Settings(tokens_file=tokens_file)


def test_the_same_token_in_the_environment_and_the_file_is_refused(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("viewer:a1-0123456789abcdef\n")
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'q.db'}", tokens_file=tokens_file,
                        tokens="admin:a1-0123456789abcdef")
    with pytest.raises(ConfigError, match="the same token as QUOTIENT_TOKENS line 1"):
        create_app(settings)


def test_audit_actors_are_token_names_or_keyed_fingerprints() -> None:
    hashes = parse_tokens("alice@admin:a1-0123456789abcdef,admin:b2-0123456789abcdef",
                          source="test")
    plain, keyed = TokenStore(hashes), TokenStore(hashes, audit_key=b"secret")
    alice = plain.principal("a1-0123456789abcdef")
    anonymous = plain.principal("b2-0123456789abcdef")
    keyed_one = keyed.principal("b2-0123456789abcdef")

    assert alice is not None and alice.actor == "admin#alice"
    assert anonymous is not None and keyed_one is not None
    assert anonymous.actor != keyed_one.actor  # without the key, a guess cannot be checked
    unkeyed_sha = hashlib.sha256(b"b2-0123456789abcdef").hexdigest()[:8]
    assert unkeyed_sha not in anonymous.actor + keyed_one.actor
    assert re.fullmatch(ACTOR_PATTERN, keyed_one.actor) and re.fullmatch(ACTOR_PATTERN, alice.actor)


def _wait_for(url: str, token: str, process: subprocess.Popen[bytes]) -> int:
    for _ in range(300):
        assert process.poll() is None, "quotient serve exited"
        try:
            return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("quotient serve did not answer within 15 s")
