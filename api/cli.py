"""Commands this package adds to `quotient`: serve, db, projects, departments, bench api.

Owns turning command-line options into `Settings` (flags override QUOTIENT_* variables),
refusing to start without tokens, running uvicorn, and applying migrations on demand. It
must not hold API logic: it composes `api.app`, `api.db.migrate`, `api.cli_resources` and
`api.bench`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from api import cli_views
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
    except ValueError as exc:  # a token file refused while being read, say
        _fail(str(exc))


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (127.0.0.1); beyond loopback, use --tls-*"),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (8080; $QUOTIENT_PORT)")] = None,
    db: DbUrl = None,
    data_dir: DataDir = None,
    tokens_file: Annotated[
        Path | None, typer.Option(help="File of role:token pairs (or set $QUOTIENT_TOKENS)")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve HTTPS")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes; keep workers x pool size < max_connections")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request")] = True,
) -> None:
    """Run the REST API (tokens from $QUOTIENT_TOKENS and/or --tokens-file)."""
    import uvicorn

    from api.app import ConfigError, create_app, freeze_startup_objects

    tls = _tls_files(tls_cert, tls_key)
    settings = _settings(
        host=host, port=port, db_url=db, data_dir=data_dir, tokens_file=tokens_file
    )
    try:
        app = create_app(settings.model_copy(update={"migrate_on_start": False}))
    except ConfigError as exc:
        _fail(str(exc))
    if settings.migrate_on_start:
        _migrate_before_serving(app.state.db.engine, settings.database_url())
    if tls is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"warning: serving plain HTTP on {settings.host}: tokens cross the network in "
            "clear text; pass --tls-cert and --tls-key (or terminate TLS in front)", err=True,
        )
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": log_level,
        "access_log": access_log, "ssl_certfile": tls[0] if tls else None,
        "ssl_keyfile": tls[1] if tls else None,
    }
    if workers == 1:
        freeze_startup_objects()
        uvicorn.run(app, **options)
        return
    app.state.db.dispose()  # each worker builds its own app, from the flags passed on below
    _pass_to_workers(db=settings.database_url(), data_dir=data_dir, tokens_file=tokens_file)
    uvicorn.run("api.app:create_app_from_env", factory=True, workers=workers, **options)


def _pass_to_workers(**flags: Any) -> None:
    # Workers read QUOTIENT_*; the tables exist already, so they need not migrate.
    import os

    names = {"db": "QUOTIENT_DB_URL", "data_dir": "QUOTIENT_DATA_DIR",
             "tokens_file": "QUOTIENT_TOKENS_FILE"}
    for flag, value in flags.items():
        if value is not None:
            os.environ[names[flag]] = str(value)
    os.environ["QUOTIENT_MIGRATE_ON_START"] = "false"


def _tls_files(cert: Path | None, key: Path | None) -> tuple[str, str] | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        _fail("--tls-cert and --tls-key go together")
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            _fail(f"{option}: {path} is not a readable file")
    return str(cert), str(key)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _migrate_before_serving(engine: Engine, url: str) -> None:
    # Here rather than in the app's start-up, so an unreachable database is one line.
    from api.db import migrate

    with _database_errors(url):
        migrate.upgrade(engine)


def _shown_url(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as typed; it holds no parsed password
        return url


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """Every database failure of a command as one line naming the URL (password hidden)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from api.db.engine import DatabaseUrlError

    try:
        yield
    except DatabaseUrlError as exc:
        _fail(str(exc))
    except CommandError as exc:
        _fail(f"migrations: {exc}")
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _fail(f"database {_shown_url(url)}: {first}", 1)


@contextmanager
def _engine(db: str | None, data_dir: Path | None, *, must_exist: bool = False) -> Iterator[Engine]:
    from api.db.engine import is_sqlite, make_engine, parse_url

    url = _settings(db_url=db, data_dir=data_dir).database_url()
    with _database_errors(url):
        parsed = parse_url(url)
        if must_exist and is_sqlite(url) and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database or "")
            if not path.is_file():
                _fail(f"no database at {path} (`quotient db upgrade` creates it)", 1)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def db_upgrade(
    db: DbUrl = None, data_dir: DataDir = None,
    revision: Annotated[str, typer.Option(help="Target revision (default: the newest)")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from api.db import migrate

    with _engine(db, data_dir) as engine, _database_errors(str(engine.url)):
        migrate.upgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")


def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1")],
    db: DbUrl = None, data_dir: DataDir = None,
) -> None:
    """Undo migrations down to REVISION ('base' removes every table; -1 undoes one)."""
    from api.db import migrate

    with _engine(db, data_dir, must_exist=True) as engine, _database_errors(str(engine.url)):
        migrate.downgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")


def db_current(db: DbUrl = None, data_dir: DataDir = None) -> None:
    """Print the schema revision the database is at, and the newest shipped."""
    from api.db import migrate

    with _engine(db, data_dir, must_exist=True) as engine, _database_errors(str(engine.url)):
        current = migrate.current_revision(engine)
        typer.echo(f"current {current}; head {migrate.head_revision()}")


def _db_group() -> typer.Typer:
    group = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
    group.command("upgrade")(db_upgrade)
    # "-1" is a relative revision, not an option
    group.command("downgrade", context_settings={"ignore_unknown_options": True})(db_downgrade)
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
    cli_views.register(app)
    bench.command("api")(bench_api)
