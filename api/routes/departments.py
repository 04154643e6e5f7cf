"""Routes of /api/v1/departments: CRUD, paging, ETags, cascading delete.

Owns the HTTP surface of departments. It must not validate across objects or touch rows
(api.store.departments does).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import (
    Cache,
    Db,
    IfMatch,
    IfNoneMatch,
    Limit,
    Offset,
    Reader,
    Writer,
    json_or_not_modified,
)
from api.errors import error_responses
from api.fastpath import http_key
from api.fields import DnsLabel
from api.schemas import (
    DepartmentCreate,
    DepartmentOut,
    DepartmentPage,
    DepartmentPatch,
    DepartmentWritten,
)
from api.store import departments, tree

router = APIRouter(prefix="/api/v1/departments", tags=["departments"])
Name = Annotated[str, Path(max_length=253, description="Department name")]


@router.get(
    "", response_model=DepartmentPage, responses=error_responses(304, 401, 403, 422),
    summary="List departments (paged, by name)",
)
async def list_departments(
    request: Request, db: Db, cache: Cache, _: Reader, if_none_match: IfNoneMatch = None,
    limit: Limit = 100, offset: Offset = 0,
    parent: Annotated[DnsLabel | None, Query(description="Only this department's")] = None,
) -> Response:
    gen = await tree.generation_async(db)  # first: the page read after it is this new

    def render() -> bytes:
        found = departments.page(db, limit=limit, offset=offset, parent=parent)
        return found.model_dump_json().encode()

    key = ("departments", gen, limit, offset, parent)
    body = cache.get(key)
    if body is None:
        body = await run_in_threadpool(render)
        cache.put(key, body)
    # Also under the raw request, so api.fastpath can repeat this exact 200 next time.
    cache.put(http_key(request.url.path, request.scope["query_string"], gen), body)
    return json_or_not_modified(body, f'W/"g{gen}"', if_none_match)


@router.post(
    "", status_code=201, response_model=DepartmentWritten,
    responses=error_responses(400, 401, 403, 409, 422), summary="Create a department",
)
def create_department(
    body: DepartmentCreate, db: Db, who: Writer, response: Response
) -> DepartmentWritten:
    created = departments.create(db, body, who)
    response.headers["ETag"] = created.etag
    response.headers["Location"] = f"{router.prefix}/{created.name}"
    return created


@router.get(
    "/{name}", response_model=DepartmentOut, responses=error_responses(401, 403, 404, 422),
    summary="Read a department",
)
def get_department(name: Name, db: Db, _: Reader, response: Response) -> DepartmentOut:
    found = departments.get(db, name)
    response.headers["ETag"] = found.etag
    return found


@router.patch(
    "/{name}", response_model=DepartmentWritten,
    responses=error_responses(400, 401, 403, 404, 412, 422),
    summary="Change some fields of a department (If-Match for safe concurrent edits)",
)
def update_department(
    name: Name, body: DepartmentPatch, db: Db, who: Writer, response: Response,
    if_match: IfMatch = None,
) -> DepartmentWritten:
    updated = departments.update(db, name, body, who, if_match)
    response.headers["ETag"] = updated.etag
    return updated


@router.delete(
    "/{name}", status_code=204, responses=error_responses(401, 403, 404, 409, 412, 422),
    summary="Delete a department (cascade=true also deletes everything under it)",
)
def delete_department(
    name: Name, db: Db, who: Writer, if_match: IfMatch = None,
    cascade: Annotated[bool, Query(description="Also delete its projects and sub-departments")]
    = False,
) -> Response:
    departments.delete(db, name, who, if_match, cascade)
    return Response(status_code=204)
