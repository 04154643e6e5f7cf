"""The `quotient` command: composes the command groups each package registers.

Owns the root Typer app and the `bench` group. It must not implement commands itself:
`simulations.cli` registers simulate and `bench cycle`, `api.cli` registers serve, db,
projects, departments and `bench api`.
"""

from __future__ import annotations

import typer

from api import cli as api_cli
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
    )
    bench = typer.Typer(help="Benchmarks that print their figures as JSON.", no_args_is_help=True)
    sim_cli.register(app, bench)
    api_cli.register(app, bench)
    register_bench(bench)
    experiments_cli.register(app)
    app.add_typer(bench, name="bench")
    return app


def main() -> None:
    build_app()()
