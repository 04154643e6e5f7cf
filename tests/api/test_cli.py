"""`quotient projects|departments ...` against a live API, and `quotient bench api`.

The CLI is a client, so it runs against one backend (SQLite) only: its behaviour does not
depend on the database behind the API."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from click.testing import Result
from typer.testing import CliRunner

from quotient.cli import build_app
from tests.api.conftest import TOKENS, LiveServer


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def quotient(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunnerCall]:
    monkeypatch.setenv("QUOTIENT_URL", live.url)
    monkeypatch.setenv("QUOTIENT_TOKEN", TOKENS["admin"])
    yield CliRunnerCall()


class CliRunnerCall:
    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(build_app(), list(args))


def test_create_list_get_update_delete_a_project(quotient: CliRunnerCall) -> None:
    created = quotient("projects", "create", "team-a", "--deserved-gpus", "4",
                       "--limit-gpus", "8", "--node-pool", "a100", "--node-pool", "h100")
    listed = quotient("projects", "list")
    got = quotient("projects", "get", "team-a", "--json")
    updated = quotient("projects", "update", "team-a", "--limit-gpus", "none",
                       "--max-training-seconds", "3600", "--json")
    deleted = quotient("projects", "delete", "team-a")
    gone = quotient("projects", "get", "team-a")

    assert created.exit_code == 0 and "team-a" in created.output
    assert listed.exit_code == 0
    row = listed.output.splitlines()[1].split()
    assert row[:7] == ["team-a", "-", "4", "-", "8", "0", "a100,h100"]
    assert json.loads(got.output)["node_pools"] == ["a100", "h100"]
    body = json.loads(updated.output)
    assert body["limit_gpus"] is None and body["max_training_seconds"] == 3600
    assert deleted.exit_code == 0 and "deleted team-a" in deleted.output
    assert gone.exit_code == 1 and "error: name: project 'team-a' does not exist" in gone.output


ERRORS = [
    pytest.param(["projects", "create", "p", "--deserved-gpus", "1.2345"],
                 "error: deserved_gpus: at most 3 decimals are allowed, got 1.2345",
                 id="a validation error is the API's own message"),
    pytest.param(["projects", "create", "p", "--department", "ghost"],
                 "error: department: department 'ghost' does not exist",
                 id="an unknown department"),
    pytest.param(["projects", "update", "p0", "--if-match", '"r999"', "--priority", "1"],
                 "error: If-Match: project 'p0' changed since you read it",
                 id="a stale etag"),
    pytest.param(["departments", "delete", "d0"],
                 "still has 1 project(s) and 0 department(s)",
                 id="deleting a department with projects needs --cascade"),
    pytest.param(["projects", "list", "--token", "nope"],
                 "error: Authorization: the bearer token is not valid", id="a wrong token"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_errors_print_the_api_message_and_exit_non_zero(
    quotient: CliRunnerCall, args: list[str], message: str
) -> None:
    assert quotient("departments", "create", "d0", "--deserved-gpus", "8").exit_code == 0
    assert quotient("projects", "create", "p0", "--department", "d0").exit_code == 0

    result = quotient(*args)

    assert result.exit_code == 1
    assert message in result.output


def test_departments_nest_and_cascade(quotient: CliRunnerCall) -> None:
    quotient("departments", "create", "org", "--deserved-gpus", "16")
    quotient("departments", "create", "ml", "--parent", "org", "--deserved-gpus", "8")
    quotient("projects", "create", "vision", "--department", "ml", "--deserved-gpus", "2")

    children = json.loads(quotient("departments", "list", "--parent", "org", "--json").output)
    cascade = quotient("departments", "delete", "org", "--cascade")
    left = json.loads(quotient("projects", "list", "--json").output)

    assert [d["name"] for d in children["items"]] == ["ml"]
    assert cascade.exit_code == 0 and left["total"] == 0


def test_warnings_are_printed_but_the_write_succeeds(quotient: CliRunnerCall) -> None:
    quotient("departments", "create", "ml", "--deserved-gpus", "2")

    result = quotient("projects", "create", "big", "--department", "ml", "--deserved-gpus", "3")

    assert result.exit_code == 0
    assert "warning: deserved_gpus: the children of department 'ml' deserve 3 GPUs" in result.output


def test_an_unreachable_api_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    result = CliRunner().invoke(build_app(), ["projects", "list", "--url", url, "--token", "x"])

    assert result.exit_code == 1 and f"error: cannot reach the API at {url}" in result.output


def test_bench_api_prints_latencies_and_throughput_as_json() -> None:
    result = CliRunner().invoke(build_app(), [
        "bench", "api", "--projects", "6", "--clients", "3", "--reads", "5", "--patches", "4",
        "--client-processes", "1", "--json",
    ])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["read_requests"], figures["patch_requests"]) == (15, 12)
    assert 0 < figures["read_p50_ms"] <= figures["read_p99_ms"]
    assert 0 < figures["patch_p50_ms"] <= figures["patch_p99_ms"]
    assert figures["requests_per_second"] > 0 and figures["database"] == "sqlite"
