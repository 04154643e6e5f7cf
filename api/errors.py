"""Error responses: one body shape for every refusal, naming the field and the reason.

Owns `ApiError` (what domain code raises), the response body models the OpenAPI schema
documents, and the handlers that turn pydantic's validation errors, our own errors and
Starlette's HTTP errors into `{"detail": [{"field": ..., "reason": ...}]}`. It must not
decide what is valid (schemas and the store do) nor touch the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.db.engine import DatabaseBusy
from api.fields import DNS_LABEL

RETRY_AFTER_S = 2


class Issue(BaseModel):
    """One problem with a request: the field it concerns (if any) and why."""

    field: str | None = Field(description="Request field at fault, e.g. deserved_gpus")
    reason: str = Field(description="What is wrong and what would be accepted")


class ErrorBody(BaseModel):
    detail: list[Issue]


class ApiError(Exception):
    """A refusal with an HTTP status; raised by routes and the store, rendered by a handler."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        field: str | None = None,
        issues: Sequence[Issue] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.issues = list(issues) or [Issue(field=field, reason=reason)]
        self.headers = dict(headers or {})
        if status == 401:
            self.headers.setdefault("WWW-Authenticate", "Bearer")


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(422, reason, field=field)


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, f"{kind} {name!r} does not exist", field="name")


def require_label(kind: str, name: str) -> None:
    """A name from a URL that is no DNS-1123 label cannot exist: answer 404 before the
    database sees it (PostgreSQL refuses some such strings, e.g. with NUL, outright)."""
    if DNS_LABEL.fullmatch(name) is None:
        raise not_found(kind, name)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error codes a route may answer."""
    texts = {
        304: "Not modified (If-None-Match matched)",
        400: "The body could not be read (it is not UTF-8 JSON)",
        401: "No bearer token, or not a valid one",
        403: "The token's role may not do this",
        404: "No such object",
        409: "Conflicts with the current state (name taken, still has children)",
        412: "If-Match does not match the object's current ETag; nothing was changed",
        413: "The body is larger than this endpoint accepts; nothing was read further",
        422: "Invalid request: each entry names the field and the reason",
        503: "The database is busy or unreachable, or too many writes are queued; "
        "retry after Retry-After seconds",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"description": texts[code]}
        if code != 304:
            out[code]["model"] = ErrorBody
    return out


def _field_of(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts.pop(0)
        if where == "header" and parts:
            return "-".join(p.capitalize() for p in str(parts[0]).split("-"))
    if not parts:
        return "body"
    text = str(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this object",
}


def issues_from_validation(errors: Sequence[Any]) -> list[Issue]:
    out = []
    for err in errors:
        loc = err.get("loc", ())
        kind = err.get("type", "")
        reason = _REASONS.get(kind) or str(err.get("msg", "is invalid"))
        if kind == "json_invalid":
            reason = f"is not valid JSON: {err.get('ctx', {}).get('error', reason)}"
            loc = ("body",)
        out.append(Issue(field=_field_of(loc), reason=reason.removeprefix("Value error, ")))
    return out


def _render(status: int, issues: Sequence[Issue], headers: Mapping[str, str]) -> JSONResponse:
    body = {"detail": [i.model_dump() for i in issues]}
    return JSONResponse(body, status_code=status, headers=dict(headers))


def unavailable_reason(exc: Exception) -> str:
    """Why the database could not answer, without echoing its connection details."""
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, PoolTimeout):
        return "every database connection of this worker is in use; retry later"
    if isinstance(exc, DatabaseBusy) or "lock" in text or "canceling statement" in text:
        return "the database is busy (a lock or statement timeout expired); retry later"
    return "the database is unreachable; retry later"


def unavailable(reason: str) -> JSONResponse:
    """503 in the documented error shape, with the Retry-After clients back off by."""
    return _render(503, [Issue(field=None, reason=reason)], {"Retry-After": str(RETRY_AFTER_S)})


def _allowed_methods(request: Request) -> str:
    """Every documented method of the path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), request.url.path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KINDS = {"projects": "project", "departments": "department", "status": "status"}


def _audit_denied(request: Request, exc: ApiError) -> None:
    """A refused write by a known principal goes into the audit log, with where it came
    from and the request id its caller saw (401s are not: anyone could fill the log)."""
    from api.store import audit  # here: the store imports this module

    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    parts = request.url.path.removeprefix("/api/v1/").split("/")
    detail = {
        "status": exc.status, "reason": exc.issues[0].reason, "method": request.method,
        "path": request.url.path, "source": request.client.host if request.client else None,
        "request_id": getattr(request.state, "request_id", None),
    }
    name = parts[1] if len(parts) > 1 else "-"
    audit.record_denied(request.app.state.db, principal.actor, _KINDS.get(parts[0], "other"),
                        name, detail)


def install_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        if exc.status == 403 and request.method in _WRITES:
            await run_in_threadpool(_audit_denied, request, exc)
        return _render(exc.status, exc.issues, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _render(422, issues_from_validation(exc.errors()), {})

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        issue = Issue(field=None, reason=str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return _render(exc.status_code, [issue], headers)

    async def on_database_down(_: Request, exc: Exception) -> JSONResponse:
        return unavailable(unavailable_reason(exc))

    for kind in (OperationalError, InterfaceError, PoolTimeout, DatabaseBusy):
        app.add_exception_handler(kind, on_database_down)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
