"""Schemathesis against the app's own OpenAPI schema: no request, valid or not, gets a 500,
and every response matches the schema (status codes, content types, headers, bodies).

One test per operation and generation mode (positive: data the schema allows; negative:
data it forbids), each on SQLite and PostgreSQL, with bounded examples so the whole module
stays well under a minute. Each call carries the token whose role the operation needs, so
writes reach the store; the database keeps what earlier examples wrote, so later examples
also meet conflicts and existing names."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import ADMIN, SCHEDULER, TOKENS_ENV

EXAMPLES = 15


def _cases() -> list[Any]:
    """(method, path, mode) for every operation; invalid data only where there is input."""
    # Building an app opens no connection, so the schema can be read at collection time.
    app = create_app(Settings(db_url="sqlite:///:memory:", tokens=TOKENS_ENV))
    out = []
    for path, operations in app.openapi()["paths"].items():
        for method, spec in operations.items():
            modes = [GenerationMode.POSITIVE]
            if spec.get("parameters") or spec.get("requestBody"):
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                label = "valid" if mode == GenerationMode.POSITIVE else "invalid"
                out.append(pytest.param(method.upper(), path, mode,
                                        id=f"{method.upper()} {path} with {label} data"))
    return out


def _token(method: str, path: str) -> dict[str, str]:
    return SCHEDULER if (method, path) == ("PUT", "/api/v1/status") else ADMIN


def _headers_are_the_invalid_part(case: Any) -> bool:
    """When schemathesis made the headers invalid (e.g. dropped Authorization), sending our
    valid token would make the request valid again: send its headers as generated."""
    header = case.meta.components.get(ParameterLocation.HEADER)
    return header is not None and header.mode == GenerationMode.NEGATIVE


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_operation_conforms_to_the_schema(
    app: FastAPI, client: TestClient, method: str, path: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    token = _token(method, path)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        # Domain rules (unknown department, limit below deserved, 3 decimals) reject data the
        # schema alone allows, so "valid data is accepted" cannot hold; all else must.
        case.call_and_validate(
            headers=None if _headers_are_the_invalid_part(case) else token,
            excluded_checks=[positive_data_acceptance],
        )

    check()
