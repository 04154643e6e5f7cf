"""An ASGI fast path for the hottest reads: answer a GET whose exact response the route
itself already rendered at the current generation, without routing or validation.

Owns the one shortcut: for `GET` of the project list, the department list and the quota
tree, with a bearer token whose role may read it and no conditional header, look up the
body the route stored under (path, raw query string, generation) and send it. Anything
else (a miss, a stale generation, no or a wrong token, If-None-Match, another path) goes
to the application untouched, which then answers exactly as it always does: the fast path
can only repeat a 200 the route produced for the same request. It must not render,
validate or refuse anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import TokenStore
from api.cache import RenderCache
from api.db.engine import Database
from api.store import tree

JSON_HEADERS = ((b"content-type", b"application/json"), (b"cache-control", b"no-cache"))


def http_key(path: str, query: bytes, generation: int) -> tuple[str, str, bytes, int]:
    """The cache key a route stores its 200 body under, for the fast path to find."""
    return ("http", path, query, generation)


class CachedReads:
    def __init__(self, app: ASGIApp, *, paths: Mapping[str, frozenset[Any]], weak: set[str]):
        self.app = app
        self.paths = paths  # path -> roles allowed to read it
        self.weak = weak  # paths whose ETag is weak (lists) rather than strong (the tree)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        body_and_tag = await self._cached(scope)
        if body_and_tag is None:
            await self.app(scope, receive, send)
            return
        body, etag = body_and_tag
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode()),
                   (b"etag", etag.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _cached(self, scope: Scope) -> tuple[bytes, str] | None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                return None  # conditional requests take the full route
            if name == b"authorization" and authorization is None:
                authorization = value  # the first one, as the route's HTTPBearer reads it
        if authorization is None:
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        state = scope["app"].state
        store: TokenStore = state.tokens
        principal = store.principal(token)
        if principal is None or principal.role not in self.paths[scope["path"]]:
            return None
        db: Database = state.db
        cache: RenderCache = state.cache
        try:
            generation = await tree.generation_async(db)
        except SQLAlchemyError:
            return None  # the route meets the same error and answers it in the API's shape
        body = cache.get(http_key(scope["path"], scope["query_string"], generation))
        if body is None:
            return None
        etag = f'W/"g{generation}"' if scope["path"] in self.weak else f'"g{generation}"'
        return body, etag
