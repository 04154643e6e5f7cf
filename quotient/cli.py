"""The `quotient` command: composes the command groups each package registers.

Owns the root Typer app and the `bench` group. It must not implement commands itself:
`simulations.cli` registers simulate and `bench cycle`, `api.cli` registers serve, db,
projects, departments and `bench api`.
"""

from __future__ import annotations

from importlib.metadata import version

import typer

from api import cli as api_cli
from quotient import demo_cli, kube_cli
from scheduler.kube import install_cli
from simulations import cli as sim_cli
from simulations.bench import register_bench
from simulations.experiments import cli as experiments_cli


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="quotient",
        help="Quotient: a fair-share GPU scheduler for Kubernetes.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # a usage error is one plain "Error: ..." line, not a panel
    )
    app.callback()(_root)
    bench = typer.Typer(help="Benchmarks that print their figures as JSON.", no_args_is_help=True)
    demo_cli.register(app)
    sim_cli.register(app, bench)
    api_cli.register(app, bench)
    kube_cli.register(app, bench)
    install_cli.register(app)
    register_bench(bench)
    experiments_cli.register(app)
    app.add_typer(bench, name="bench")
    return app


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"quotient {version('quotient')}")
        raise typer.Exit()


def _root(
    _version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Quotient: a fair-share GPU scheduler for Kubernetes."""


def main() -> None:
    build_app()()
