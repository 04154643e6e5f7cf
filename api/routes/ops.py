"""Operational endpoints: liveness, readiness, Prometheus metrics.

Owns /healthz (the process answers: async, no database, no thread, so it answers while
every worker thread waits on the database), /readyz (the database answers within 2 s and
its schema is at the shipped migration head; 503 otherwise) and /metrics. It must not
expose quota data beyond the gauges.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.auth import ANY_ROLE, require
from api.db import migrate
from api.db.engine import Database
from api.deps import Db
from api.errors import error_responses


class Health(BaseModel):
    status: str
    detail: str | None = None


router = APIRouter(tags=["operations"])


READY_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


def _schema_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return migrate.current_revision(db.engine)


@router.get(
    "/readyz", response_model=Health, responses={503: {"model": Health}}, summary="Readiness"
)
async def readyz(db: Db, request: Request) -> Response:
    # asyncio's own executor, not the request thread pool: a starved pool must not make
    # readiness wait; the check is abandoned (not cancelled) when it is late.
    # Answered before the request deadline (api.guard) turns it into a generic 503.
    bound = min(READY_TIMEOUT_S, request.app.state.settings.request_timeout_s * 0.8)
    check = asyncio.get_running_loop().run_in_executor(None, _schema_revision, db)
    try:
        current = await asyncio.wait_for(check, bound)
    except TimeoutError:
        return _unready(f"database did not answer within {bound:g} s")
    except SQLAlchemyError as exc:
        return _unready(f"database unreachable: {type(exc).__name__}")
    head: str | None = request.app.state.schema_head
    if current != head:
        return _unready(f"database schema at {current}, expected {head}")
    return JSONResponse(Health(status="ready").model_dump())


def _unready(detail: str) -> JSONResponse:
    return JSONResponse(Health(status="unready", detail=detail).model_dump(), status_code=503)


def add_metrics_route(app: FastAPI, *, public: bool) -> None:
    """/metrics, behind a token of any role unless the operator made it public."""
    dependencies = [] if public else [Depends(require(ANY_ROLE))]

    @app.get(
        "/metrics", tags=["operations"], dependencies=dependencies,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"},
            **({} if public else error_responses(401, 403)),
        },
        summary="Prometheus gauges of the live status",
        response_class=Response,
    )
    def metrics(request: Request) -> Response:
        registry: CollectorRegistry = request.app.state.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
