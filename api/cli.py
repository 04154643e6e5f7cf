"""Commands this package adds to `quotient`: serve, db, projects, departments, bench api.

Owns turning command-line options into `Settings` (flags override QUOTIENT_* variables),
refusing to start without tokens, running uvicorn, and applying migrations on demand. It
must not hold API logic: it composes `api.app`, `api.db.migrate`, `api.cli_resources` and
`api.bench`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from api.cli_resources import departments_group, projects_group

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from api.settings import Settings

# The server stack (uvicorn, SQLAlchemy, Alembic) is imported inside the commands that use
# it, so `quotient --help` and the client commands start quickly.

DbUrl = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SQLite under --data-dir; $QUOTIENT_DB_URL)"),
]
DataDir = Annotated[Path | None, typer.Option(help="Where the SQLite file lives")]


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    from api.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(map(str, err["loc"])) or "settings"
            typer.echo(f"error: {where}: {str(err['msg']).removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (8080)")] = None,
    db: DbUrl = None,
    data_dir: DataDir = None,
    tokens_file: Annotated[
        Path | None, typer.Option(help="File of role:token pairs (or set $QUOTIENT_TOKENS)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request")] = True,
) -> None:
    """Run the REST API (tokens from $QUOTIENT_TOKENS and/or --tokens-file)."""
    import uvicorn

    from api.app import ConfigError, create_app, freeze_startup_objects

    settings = _settings(
        host=host, port=port, db_url=db, data_dir=data_dir, tokens_file=tokens_file
    )
    try:
        app = create_app(settings)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    freeze_startup_objects()
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=log_level, access_log=access_log
    )


def _engine(db: str | None, data_dir: Path | None) -> Engine:
    from api.db.engine import make_engine

    return make_engine(_settings(db_url=db, data_dir=data_dir).database_url())


def db_upgrade(db: DbUrl = None, data_dir: DataDir = None, revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from api.db import migrate

    engine = _engine(db, data_dir)
    migrate.upgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")
    engine.dispose()


def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1")],
    db: DbUrl = None, data_dir: DataDir = None,
) -> None:
    """Undo migrations down to REVISION ('base' removes every table)."""
    from api.db import migrate

    engine = _engine(db, data_dir)
    migrate.downgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")
    engine.dispose()


def db_current(db: DbUrl = None, data_dir: DataDir = None) -> None:
    """Print the schema revision the database is at, and the newest shipped."""
    from api.db import migrate

    engine = _engine(db, data_dir)
    typer.echo(f"current {migrate.current_revision(engine)}; head {migrate.head_revision()}")
    engine.dispose()


def _db_group() -> typer.Typer:
    group = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
    group.command("upgrade")(db_upgrade)
    group.command("downgrade")(db_downgrade)
    group.command("current")(db_current)
    return group


def bench_api(
    projects: Annotated[int, typer.Option(min=1, help="Projects to seed")] = 200,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent HTTP clients")] = 50,
    reads: Annotated[int, typer.Option(min=1, help="GET /api/v1/projects per client")] = 100,
    patches: Annotated[int, typer.Option(min=1, help="PATCHes per client")] = 20,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    client_processes: Annotated[
        int, typer.Option(min=0, help="Processes the clients run in (0 = one per CPU)")
    ] = 0,
    page_size: Annotated[
        int | None, typer.Option(min=1, help="limit= of each read (default: the API's)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only")] = False,
) -> None:
    """Latency (p50/p99) and throughput of the API on SQLite, over loopback."""
    from api.bench import BenchConfig, run_bench

    result = run_bench(
        BenchConfig(projects=projects, clients=clients, reads_per_client=reads,
                    patches_per_client=patches, workers=workers,
                    client_processes=client_processes, page_size=page_size)
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        typer.echo(f"{key:>24}  {value}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this package's commands to the root app and the bench group."""
    app.command()(serve)
    app.add_typer(_db_group(), name="db")
    app.add_typer(projects_group(), name="projects")
    app.add_typer(departments_group(), name="departments")
    bench.command("api")(bench_api)
