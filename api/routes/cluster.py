"""Routes for the scheduler and observers: the quota tree, the live status, the audit log.

Owns /api/v1/quota-tree (ETag = generation, 304 when unchanged), /api/v1/status (the
scheduler PUTs each cycle's summary; people GET it) and /api/v1/audit. It must not compute
shares: the scheduler does, and reports them here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.auth import ACTOR_PATTERN
from api.deps import (
    Cache,
    Db,
    IfNoneMatch,
    Limit,
    Offset,
    Reader,
    StatusWriter,
    TreeReader,
    json_or_not_modified,
)
from api.errors import error_responses
from api.fastpath import http_key
from api.fields import DNS_LABEL_PATTERN
from api.schemas import AuditPage, QuotaTreeOut
from api.schemas_status import StatusOut, StatusReportIn
from api.store import audit, status, tree

router = APIRouter(prefix="/api/v1")


@router.get(
    "/quota-tree", response_model=QuotaTreeOut, tags=["scheduler"],
    responses=error_responses(304, 401, 403, 422),
    summary="Every department and project; the ETag changes on every write",
)
async def get_quota_tree(
    request: Request, db: Db, cache: Cache, _: TreeReader, if_none_match: IfNoneMatch = None
) -> Response:
    gen = await tree.generation_async(db)
    body = cache.get(("tree", gen))
    if body is None:
        # Generation and rows come from one read, so the body is labelled with its own.
        found = await run_in_threadpool(tree.quota_tree, db)
        gen, body = found.generation, found.model_dump_json().encode()
        cache.put(("tree", gen), body)
    # Also under the raw request, so api.fastpath can repeat this exact 200 next time.
    cache.put(http_key(request.url.path, request.scope["query_string"], gen), body)
    return json_or_not_modified(body, f'"g{gen}"', if_none_match)


@router.put(
    "/status", status_code=204, tags=["scheduler"],
    responses=error_responses(400, 401, 403, 422),
    summary="Report a scheduling cycle's summary (role scheduler)",
)
def put_status(report: StatusReportIn, db: Db, who: StatusWriter) -> Response:
    status.save(db, report, who.actor)
    return Response(status_code=204)


@router.get(
    "/status", response_model=StatusOut, tags=["status"],
    responses=error_responses(401, 403),
    summary="How the cluster is shared, as of the scheduler's last cycle",
)
def get_status(db: Db, _: Reader) -> StatusOut:
    return status.status_out(db)


@router.get(
    "/audit", response_model=AuditPage, tags=["audit"],
    responses=error_responses(401, 403, 422),
    summary="Who changed what and when, newest first, with values before and after",
)
def get_audit(
    db: Db, _: Reader, limit: Limit = 100, offset: Offset = 0,
    kind: Annotated[Literal["department", "project", "status"] | None, Query()] = None,
    name: Annotated[str | None, Query(max_length=63, pattern=DNS_LABEL_PATTERN)] = None,
    actor: Annotated[
        str | None, Query(pattern=ACTOR_PATTERN, description="e.g. admin#1a2b3c4d")
    ] = None,
) -> AuditPage:
    return audit.page(db, limit=limit, offset=offset, kind=kind, name=name, actor=actor)
