"""The FastAPI application factory: builds everything one API process needs from Settings.

Owns composition: the engine and its `Database`, the token store (hashes only), the
render cache, the metrics registry, the routes and error handlers, and start-up (apply
migrations) and shutdown (dispose the engine). It must not hold module-level state: every
object lives on `app.state` of the app it belongs to, so tests can run many apps at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from api.auth import READERS, TREE_READERS, TokenFormatError, TokenHash, TokenStore
from api.cache import RenderCache
from api.db import migrate
from api.db.engine import Database, DatabaseUrlError, make_engine
from api.deps import index_query_parameters, reject_unknown_query
from api.errors import install_handlers
from api.fastpath import CachedReads
from api.guard import Guard, Limits
from api.metrics import build_registry
from api.routes import cluster, dashboard, departments, ops, projects
from api.settings import Settings

API_VERSION = "1"
log = logging.getLogger("quotient.api")


class ConfigError(RuntimeError):
    """The API cannot start with this configuration; the message says what to fix."""


def create_app(settings: Settings) -> FastAPI:
    """An app for `settings`; migrations run when it starts (if `migrate_on_start`)."""
    if not settings.tokens:
        raise ConfigError(
            "no API tokens: set QUOTIENT_TOKENS or pass --tokens-file with role:token pairs "
            "(roles: admin, viewer, scheduler); nothing may be served without them"
        )
    db = _database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(migrate.upgrade, db.engine)
        _watch_sighup(app)
        try:
            yield
        finally:
            db.dispose()

    # FastAPIOffline serves /docs and /redoc from files it ships: no CDN, so the docs
    # also load on a cluster without Internet access.
    app = FastAPIOffline(
        title="Quotient",
        version=API_VERSION,
        summary="Fair-share GPU quotas: departments, projects, the quota tree, live status.",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.tokens = _token_store(settings, settings.tokens)
    app.state.cache = RenderCache()
    app.state.registry = build_registry(db)
    app.state.schema_head = migrate.head_revision()
    _add_routes(app, metrics_public=settings.metrics_public)
    app.add_middleware(Guard, limits=_limits(settings))  # outermost: before any parsing
    return app


def _limits(settings: Settings) -> Limits:
    return Limits(
        body_bytes=settings.body_limit_bytes, status_body_bytes=settings.status_body_limit_bytes,
        write_slots=settings.write_concurrency, write_queue_s=settings.write_queue_timeout_s,
        deadline_s=settings.request_timeout_s,
    )


def _token_store(settings: Settings, hashes: tuple[TokenHash, ...]) -> TokenStore:
    key = settings.audit_key.get_secret_value().encode() if settings.audit_key else None
    try:
        return TokenStore(hashes, audit_key=key)
    except TokenFormatError as exc:
        raise ConfigError(str(exc)) from None


def reload_tokens(app: FastAPI) -> str:
    """Read the tokens file again (SIGHUP); on any problem keep the tokens in use."""
    settings: Settings = app.state.settings
    try:
        app.state.tokens = _token_store(settings, settings.reread_tokens())
    except (ValueError, ConfigError) as exc:
        log.error("tokens not reloaded, the previous ones stay in use: %s", exc)
        return f"kept the previous tokens: {exc}"
    log.warning("tokens reloaded: %d in use", len(app.state.tokens))
    return "reloaded"


def _watch_sighup(app: FastAPI) -> None:
    # Only the main thread may set signal handlers; tests run servers in other threads.
    if threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_tokens, app)


def _database(settings: Settings) -> Database:
    try:
        engine = make_engine(
            settings.database_url(), pool_size=settings.db_pool_size,
            timeouts=settings.db_timeouts(),
        )
    except DatabaseUrlError as exc:
        raise ConfigError(f"database: {exc}") from None
    return Database(engine, lock_timeout_s=settings.db_lock_timeout_s)


def _add_routes(app: FastAPI, *, metrics_public: bool) -> None:
    install_handlers(app)
    for router in (projects.router, departments.router, cluster.router, ops.router,
                   dashboard.router):
        app.include_router(router)
    ops.add_metrics_route(app, public=metrics_public)
    index_query_parameters(app)
    app.add_middleware(
        CachedReads,
        paths={
            projects.router.prefix: READERS,
            departments.router.prefix: READERS,
            "/api/v1/quota-tree": TREE_READERS,
        },
        weak={projects.router.prefix, departments.router.prefix},
    )


def create_app_from_env() -> FastAPI:
    """For `uvicorn --factory api.app:create_app_from_env`: settings from QUOTIENT_*."""
    app = create_app(Settings())
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Exempt what start-up built (modules, schemas, the app) from garbage collection.

    For a server process only: a full collection walks every tracked object, over 100k of
    them here, stalling every request in flight for tens of milliseconds; frozen, the
    collector only walks what requests allocate. It is process-wide, hence not in
    `create_app`, which tests call many times in one process.
    """
    gc.collect()
    gc.freeze()
