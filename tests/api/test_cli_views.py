"""`quotient status`, `audit` and `tree`, and how the client CLI explains its errors: how to
pass a token, a wrong base URL, and what a cascading delete removed. Against a live API on
SQLite (the CLI is a client; the backend does not matter)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from quotient.cli import build_app
from tests.api.conftest import SCHEDULER, TOKENS, LiveServer


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def q(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("QUOTIENT_URL", live.url)
    monkeypatch.setenv("QUOTIENT_TOKEN", TOKENS["admin"])

    def run(*args: str) -> Result:
        return CliRunner().invoke(build_app(), list(args))

    yield run


def test_tree_status_and_audit_show_what_the_api_holds(q: object, live: LiveServer) -> None:
    run = q  # type: ignore[assignment]
    run("departments", "create", "org", "--deserved-gpus", "8")
    run("departments", "create", "ml", "--parent", "org", "--deserved-gpus", "4")
    run("projects", "create", "vision", "--department", "ml", "--deserved-gpus", "2")
    run("projects", "update", "vision", "--priority", "3")
    report = {"cycle_at": 5, "capacity_gpus": 8, "projects": [
        {"name": "vision", "deserved_gpus": 2, "fair_share_gpus": 8, "allocated_gpus": 1.5,
         "running": 1, "pending": 1}],
        "pending": [{"workload": "ns/big", "project": "vision", "code": "OverLimit",
                     "message": "needs 9 GPUs"}]}
    httpx.put(f"{live.url}/api/v1/status", json=report, headers=SCHEDULER).raise_for_status()

    tree, status, audit = run("tree"), run("status"), run("audit", "--name", "vision")
    as_json = json.loads(run("tree", "--json").stdout)

    assert tree.exit_code == 0 and tree.stdout.splitlines()[1:] == [
        "org (department): deserves 8",
        "  ml (department): deserves 4",
        "    vision (project): deserves 2",
    ]
    assert status.exit_code == 0
    assert "8 total, 1.5 allocated, 6.5 idle" in status.stdout
    assert "vision: ns/big: OverLimit: needs 9 GPUs" in status.stdout
    assert audit.exit_code == 0 and "priority 0 -> 3" in audit.stdout
    assert [p["name"] for p in as_json["projects"]] == ["vision"]


def test_a_cascade_says_what_else_it_removed_and_a_refusal_names_the_flag(q: object) -> None:
    run = q  # type: ignore[assignment]
    run("departments", "create", "org", "--deserved-gpus", "8")
    run("departments", "create", "ml", "--parent", "org")
    run("projects", "create", "vision", "--department", "ml")
    run("projects", "create", "nlp", "--department", "org")

    refused = run("departments", "delete", "org")
    deleted = run("departments", "delete", "org", "--cascade")

    assert refused.exit_code == 1 and "delete with --cascade" in refused.stderr
    assert "cascade=true" not in refused.stderr
    assert deleted.exit_code == 0
    assert deleted.stdout.strip() == (
        "deleted org, and with it departments ml; projects nlp, vision"
    )


def test_an_auth_error_says_how_to_pass_a_token(
    q: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUOTIENT_TOKEN")
    result = q("projects", "list")  # type: ignore[operator]
    assert result.exit_code == 1
    assert "(pass --token TOKEN or set QUOTIENT_TOKEN)" in result.stderr


def test_a_wrong_base_url_is_explained(q: object, live: LiveServer) -> None:
    result = q("projects", "list", "--url", f"{live.url}/api")  # type: ignore[operator]
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: nothing answers {live.url}/api/api/v1/projects (404 Not Found); is --url "
        "(or QUOTIENT_URL) the API's base URL, e.g. http://127.0.0.1:8080?"
    )


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(build_app(), ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("quotient 0.")
