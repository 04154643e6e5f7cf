"""The dashboard: its page and files, and the JSON reads it is drawn from.

Owns `GET /` (the page; it asks for a token and shows nothing without one), `GET /ui/NAME`
(the page's scripts and stylesheet, and plotly.js from the installed `plotly` package, so
the browser loads nothing from elsewhere), and three reads any viewer may make, each with
an ETag that changes with every status report (304 when unchanged): `/api/v1/nodes`,
`/api/v1/workloads` (optionally `?project=`) and `/api/v1/history`. The page and its files
are public: they hold no data. It must not compute shares nor change anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.db.engine import Database
from api.deps import Db, IfNoneMatch, Reader, json_or_not_modified
from api.errors import ApiError, error_responses
from api.schemas_dashboard import HistoryOut, NodesOut, WorkloadsOut
from api.store import dashboard
from webui import assets

router = APIRouter()

# The page loads only what this app serves; Plotly sets inline styles on what it draws.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/", include_in_schema=False)
def page() -> Response:
    return Response(assets.page(), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/ui/{name}", include_in_schema=False)
def ui_file(name: str) -> Response:
    media = "text/javascript; charset=utf-8"
    if name != assets.PLOTLY:
        if name not in assets.ASSETS:
            raise ApiError(404, f"no dashboard file named {name!r}", field="name")
        media = assets.ASSETS[name]
    try:
        body = assets.asset(name)
    except assets.AssetMissing as exc:
        raise ApiError(503, str(exc)) from None
    # plotly.js changes only with the installed package: let the browser keep it a day.
    cache = "public, max-age=86400" if name == assets.PLOTLY else "no-cache"
    return Response(body, media_type=media, headers={**PAGE_HEADERS, "Cache-Control": cache})


async def _conditional(
    db: Database, if_none_match: str | None, build: Callable[[Database], BaseModel]
) -> Response:
    """The body `build(db)` renders, or 304 when the client's ETag is still current."""
    etag = await run_in_threadpool(dashboard.version, db)
    if if_none_match is not None:
        probe = json_or_not_modified(b"", etag, if_none_match)
        if probe.status_code == 304:
            return probe
    model = await run_in_threadpool(build, db)
    return json_or_not_modified(model.model_dump_json().encode(), etag, None)


@router.get(
    "/api/v1/nodes", response_model=NodesOut, tags=["status"],
    responses=error_responses(304, 401, 403),
    summary="Nodes and each GPU's load, as of the scheduler's last report",
)
async def get_nodes(db: Db, _: Reader, if_none_match: IfNoneMatch = None) -> Response:
    return await _conditional(db, if_none_match, dashboard.nodes_out)


@router.get(
    "/api/v1/workloads", response_model=WorkloadsOut, tags=["status"],
    responses=error_responses(304, 401, 403, 422),
    summary="Running and pending workloads (pending ones with their reason)",
)
async def get_workloads(
    db: Db, _: Reader, if_none_match: IfNoneMatch = None,
    project: Annotated[str | None, Query(max_length=253, description="Only this project")] = None,
) -> Response:
    if project is None:
        return await _conditional(db, if_none_match, dashboard.workloads_out)

    def only(db_: Database) -> WorkloadsOut:
        found = dashboard.workloads_out(db_)
        found.workloads = [w for w in found.workloads if w.project == project]
        return found

    return await _conditional(db, if_none_match, only)


@router.get(
    "/api/v1/history", response_model=HistoryOut, tags=["status"],
    responses=error_responses(304, 401, 403),
    summary="Allocated GPUs and fair share per project over time, and recent evictions",
)
async def get_history(db: Db, _: Reader, if_none_match: IfNoneMatch = None) -> Response:
    return await _conditional(db, if_none_match, dashboard.history_out)
