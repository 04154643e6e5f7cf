"""How the API is served (issue 10, items 10-11): the docs load without a CDN, TLS flags
are checked, and error answers match the schema (a 405 names every method of its path)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from quotient.cli import build_app
from tests.api.conftest import ADMIN


@pytest.fixture
def backend() -> str:
    return "sqlite"  # how the API is served does not depend on its database


def test_the_docs_page_loads_every_asset_from_the_server_itself(client: TestClient) -> None:
    page = client.get("/docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert page.status_code == 200 and assets
    assert not [a for a in assets if "://" in a]  # nothing from a CDN
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("PUT", "/api/v1/projects/a", "DELETE, GET, PATCH", id="a project"),
        pytest.param("DELETE", "/api/v1/projects", "GET, POST", id="the project list"),
        pytest.param("POST", "/api/v1/status", "GET, PUT", id="the status"),
    ],
)
def test_a_405_lists_every_method_of_its_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=ADMIN)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_the_schema_uses_json_schema_bounds_and_the_three_decimal_rule(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    text = str(schema)
    assert "'ge'" not in text and "'le'" not in text
    priority = schema["components"]["schemas"]["ProjectCreate"]["properties"]["priority"]
    gpus = schema["components"]["schemas"]["ProjectCreate"]["properties"]["deserved_gpus"]
    assert (priority["minimum"], priority["maximum"]) == (-(2**31 - 1), 2**31 - 1)
    assert gpus["anyOf"][0]["multipleOf"] == 0.001


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        pytest.param(["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together",
                     id="a certificate without its key"),
        pytest.param(["--tls-cert", "c.pem", "--tls-key", "k.pem"], "is not a readable file",
                     id="files that are not there"),
    ],
)
def test_tls_flags_are_checked_before_serving(
    tmp_path: Path, flags: list[str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(build_app(), ["serve", *flags],
                                env={"QUOTIENT_TOKENS": "admin:0123456789abcdefgh"})
    assert result.exit_code == 2
    assert says in result.stderr
