"""FastAPI dependencies shared by the routes: the app's database, cache, callers, headers.

Owns how a route reaches what `create_app` built (through `request.app.state`, never a
module-level object) and the common parameter declarations (paging, If-Match,
If-None-Match), plus the conditional-GET helper. It must not hold domain rules.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request, Response

from api.auth import READERS, STATUS_WRITERS, TREE_READERS, WRITERS, Principal, require
from api.cache import RenderCache
from api.db.engine import Database
from api.errors import ApiError


async def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def render_cache(request: Request) -> RenderCache:
    cache: RenderCache = request.app.state.cache
    return cache


Db = Annotated[Database, Depends(database)]
Cache = Annotated[RenderCache, Depends(render_cache)]
Reader = Annotated[Principal, Depends(require(READERS))]
Writer = Annotated[Principal, Depends(require(WRITERS))]
TreeReader = Annotated[Principal, Depends(require(TREE_READERS))]
StatusWriter = Annotated[Principal, Depends(require(STATUS_WRITERS))]

Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip")]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=1024, description="The ETag you read; 412 if stale"),
]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", max_length=1024, description="304 if still current"),
]


def index_query_parameters(app: FastAPI) -> None:
    """Record each operation's query parameters, as the OpenAPI schema declares them."""
    app.state.query_names = {
        (method.upper(), path): frozenset(
            p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
        )
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    }


async def reject_unknown_query(request: Request) -> None:
    """A misspelt filter (`?departmnet=ml`) would silently list everything; refuse it."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    key = (request.method, getattr(route, "path_format", request.url.path))
    known: frozenset[str] = request.app.state.query_names.get(key, frozenset())
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ApiError(
            422, f"unknown query parameter {unknown[0]!r} (allowed: {allowed})", field=unknown[0]
        )


def json_or_not_modified(body: bytes, etag: str, if_none_match: str | None) -> Response:
    """A cached JSON body with its ETag, or 304 when the client already has it."""
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and _any_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _any_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison, as RFC 9110 prescribes for If-None-Match.
    ours = etag.removeprefix("W/")
    tags = (t.strip().removeprefix("W/") for t in if_none_match.split(","))
    return any(t == "*" or t == ours for t in tags)
