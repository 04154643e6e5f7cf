"""`quotient simulate SCENARIO.yaml [--json FILE] [--report DIR]`.

Owns the simulator's commands and their exit statuses: 2 for a malformed scenario (every
problem on stderr as "FILE: ENTRY: REASON"; nothing runs), 1 when an `expect:` entry does not
hold (each failed check on stderr), 0 otherwise. It must not simulate or format results
itself: loader, runner, result and report do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from simulations.experiments.pai import load_trace
from simulations.experiments.tables import TraceError
from simulations.loader import load_scenario
from simulations.report import is_long, print_summary, progress_bar, write_report
from simulations.result import write_json
from simulations.runner import simulate
from simulations.scenario import ScenarioError

EXIT_EXPECTATION_FAILED = 1
EXIT_BAD_SCENARIO = 2


def simulate_command(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="Scenario file (YAML), e.g. simulations/scenarios/quickstart.yaml"),
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the result document (JSON) here.")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="Write allocation.png and allocation.csv into this folder."),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Replay a job list (PAI simulator CSV) instead: one pool."),
    ] = None,
) -> None:
    """Replay a scenario through the scheduler's own loop on a virtual clock; no cluster needed."""
    if (scenario is None) == (trace is None):
        typer.echo("give a scenario file or --trace FILE (one of them)", err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO)
    try:
        sim = load_trace(trace) if trace is not None else load_scenario(Path(str(scenario)))
    except ScenarioError as e:
        typer.echo(f"invalid scenario ({len(e.problems)} problem(s)):", err=True)
        typer.echo(str(e), err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO) from None
    except TraceError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO) from None
    out, err = Console(), Console(stderr=True)
    long_run = is_long(sim.until, sim.cycle_seconds, len(sim.workloads))
    with progress_bar(err, long_run, sim.until) as progress:
        result = simulate(sim, progress)
    print_summary(result, out)
    if json_file is not None:
        write_json(result, json_file)
        out.print(f"result: {json_file}", highlight=False)
    if report_dir is not None:
        for path in write_report(result, report_dir):
            out.print(f"report: {path}", highlight=False)
    if not result.passed:
        typer.echo(f"{len(result.failed_checks)} expectation check(s) failed:", err=True)
        for check in result.failed_checks:
            typer.echo(f"  {check.message}", err=True)
        raise typer.Exit(EXIT_EXPECTATION_FAILED)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this package's commands to the root app and the bench group."""
    app.command("simulate")(simulate_command)
