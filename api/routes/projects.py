"""Routes of /api/v1/projects: CRUD, paging, ETags, and each project's live status.

Owns the HTTP surface of projects: status codes, headers (ETag, Location), roles, and the
cached list. It must not validate across objects or touch rows (api.store.projects does).
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
from api.schemas import ProjectCreate, ProjectOut, ProjectPage, ProjectPatch, ProjectWritten
from api.schemas_status import ProjectStatusReport
from api.store import projects, status, tree

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])
Name = Annotated[str, Path(max_length=253, description="Project name")]


@router.get(
    "", response_model=ProjectPage, responses=error_responses(304, 401, 403, 422),
    summary="List projects (paged, by name)",
)
async def list_projects(
    request: Request, db: Db, cache: Cache, _: Reader, if_none_match: IfNoneMatch = None,
    limit: Limit = 100, offset: Offset = 0,
    department: Annotated[DnsLabel | None, Query(description="Only this department's")] = None,
) -> Response:
    gen = await tree.generation_async(db)  # first: the page read after it is this new

    def render() -> bytes:
        found = projects.page(db, limit=limit, offset=offset, department=department)
        return found.model_dump_json().encode()

    key = ("projects", gen, limit, offset, department)
    body = cache.get(key)
    if body is None:
        body = await run_in_threadpool(render)
        cache.put(key, body)
    # Also under the raw request, so api.fastpath can repeat this exact 200 next time.
    cache.put(http_key(request.url.path, request.scope["query_string"], gen), body)
    return json_or_not_modified(body, f'W/"g{gen}"', if_none_match)


@router.post(
    "", status_code=201, response_model=ProjectWritten,
    responses=error_responses(400, 401, 403, 409, 422), summary="Create a project",
)
def create_project(body: ProjectCreate, db: Db, who: Writer, response: Response) -> ProjectWritten:
    created = projects.create(db, body, who)
    response.headers["ETag"] = created.etag
    response.headers["Location"] = f"{router.prefix}/{created.name}"
    return created


@router.get(
    "/{name}", response_model=ProjectOut, responses=error_responses(401, 403, 404, 422),
    summary="Read a project",
)
def get_project(name: Name, db: Db, _: Reader, response: Response) -> ProjectOut:
    found = projects.get(db, name)
    response.headers["ETag"] = found.etag
    return found


@router.patch(
    "/{name}", response_model=ProjectWritten,
    responses=error_responses(400, 401, 403, 404, 412, 422),
    summary="Change some fields of a project (If-Match for safe concurrent edits)",
)
def update_project(
    name: Name, body: ProjectPatch, db: Db, who: Writer, response: Response,
    if_match: IfMatch = None,
) -> ProjectWritten:
    updated = projects.update(db, name, body, who, if_match)
    response.headers["ETag"] = updated.etag
    return updated


@router.delete(
    "/{name}", status_code=204, responses=error_responses(401, 403, 404, 412, 422),
    summary="Delete a project",
)
def delete_project(name: Name, db: Db, who: Writer, if_match: IfMatch = None) -> Response:
    projects.delete(db, name, who, if_match)
    return Response(status_code=204)


@router.get(
    "/{name}/status", response_model=ProjectStatusReport,
    responses=error_responses(401, 403, 404, 422),
    summary="A project's share of the cluster as of the scheduler's last cycle",
)
def get_project_status(name: Name, db: Db, _: Reader) -> ProjectStatusReport:
    return status.project_status(db, name)
