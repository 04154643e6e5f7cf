"""The cached-read fast path: it repeats only a 200 the route rendered for the same request
at the current generation, and hands everything else to the application.

Runs on SQLite and PostgreSQL. The fast path is driven directly as ASGI middleware in front
of a stand-in application that records whether it was reached."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import READERS, TREE_READERS
from api.fastpath import CachedReads
from tests.api.conftest import ADMIN, SCHEDULER, VIEWER, project
from tests.api.helpers import create

PATHS = {"/api/v1/projects": READERS, "/api/v1/quota-tree": TREE_READERS}


class Downstream:
    """Stands in for the application behind the middleware; answers 418 and counts."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def through_fast_path(
    app: FastAPI, path: str, headers: dict[str, str] | list[tuple[str, str]],
    query: bytes = b"", method: str = "GET",
) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """(status, headers, body, calls that reached the application) for one request."""
    downstream = Downstream()
    middleware = CachedReads(downstream, paths=PATHS, weak={"/api/v1/projects"})
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    scope = {
        "type": "http", "method": method, "path": path, "query_string": query, "app": app,
        "headers": [(k.lower().encode(), v.encode()) for k, v in pairs],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"], downstream.calls


def test_a_rendered_list_is_repeated_byte_for_byte(app: FastAPI, client: TestClient) -> None:
    create(client, "projects", project("a", deserved_gpus=1))
    rendered = client.get("/api/v1/projects", headers=VIEWER)

    status, headers, body, calls = through_fast_path(app, "/api/v1/projects", ADMIN)

    assert (status, calls) == (200, 0)
    assert body == rendered.content
    assert headers[b"etag"].decode() == rendered.headers["ETag"]
    assert headers[b"content-type"] == b"application/json"


def test_the_quota_tree_is_repeated_with_its_strong_etag(app: FastAPI, client: TestClient) -> None:
    create(client, "projects", project("a"))
    rendered = client.get("/api/v1/quota-tree", headers=SCHEDULER)

    status, headers, body, calls = through_fast_path(app, "/api/v1/quota-tree", SCHEDULER)

    assert (status, calls, body) == (200, 0, rendered.content)
    generation = rendered.json()["generation"]
    assert headers[b"etag"].decode() == rendered.headers["ETag"] == f'"g{generation}"'


FALL_THROUGH = [
    pytest.param("/api/v1/projects", {}, b"", "GET", id="no token"),
    pytest.param("/api/v1/projects", {"Authorization": "Bearer nope"}, b"", "GET",
                 id="an unknown token"),
    pytest.param("/api/v1/projects", {"Authorization": "Basic admin-secret"}, b"", "GET",
                 id="not a bearer token"),
    pytest.param("/api/v1/projects", SCHEDULER, b"", "GET",
                 id="a role that may not read projects"),
    pytest.param("/api/v1/projects", {"Authorization": "Bearer "}, b"", "GET",
                 id="an empty bearer token"),
    pytest.param("/api/v1/projects", {**ADMIN, "If-None-Match": "*"}, b"", "GET",
                 id="a conditional request"),
    pytest.param("/api/v1/projects", ADMIN, b"limit=1", "GET",
                 id="a query string the route has not rendered"),
    pytest.param("/api/v1/projects", ADMIN, b"", "HEAD", id="another method"),
    pytest.param("/api/v1/projects/a", ADMIN, b"", "GET", id="another path"),
]


@pytest.mark.parametrize(("path", "headers", "query", "method"), FALL_THROUGH)
def test_everything_else_reaches_the_application(
    app: FastAPI, client: TestClient, path: str, headers: dict[str, str], query: bytes,
    method: str,
) -> None:
    create(client, "projects", project("a"))
    client.get("/api/v1/projects", headers=ADMIN)  # rendered and cached without a query

    status, _, _, calls = through_fast_path(app, path, headers, query, method)

    assert (status, calls) == (418, 1)


def test_with_two_authorization_headers_the_first_decides(
    app: FastAPI, client: TestClient
) -> None:
    client.get("/api/v1/projects", headers=ADMIN)
    two = [("Authorization", "Bearer nope"), ("Authorization", ADMIN["Authorization"])]

    status, _, _, calls = through_fast_path(app, "/api/v1/projects", two)

    assert (status, calls) == (418, 1)


def test_a_write_retires_what_was_rendered_before_it(app: FastAPI, client: TestClient) -> None:
    create(client, "projects", project("a"))
    client.get("/api/v1/projects", headers=ADMIN)
    create(client, "projects", project("b"))

    status, _, _, calls = through_fast_path(app, "/api/v1/projects", ADMIN)

    assert (status, calls) == (418, 1)
