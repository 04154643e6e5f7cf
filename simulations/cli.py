"""`quotient simulate SCENARIO.yaml [--json FILE] [--report DIR]`.

Owns the simulator's commands and their exit statuses: 2 for a malformed scenario (every
problem on stderr as "FILE: ENTRY: REASON"; nothing runs) or an output that cannot be
written (checked before the simulation runs, so a long run is never lost to a typo), 1 when
an `expect:` entry does not hold (each failed check on stderr), 0 otherwise. `--json -`
writes the document to stdout (the summary then goes to stderr). It must not simulate or
format results itself: loader, runner, result and report do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from simulations.experiments.pai import load_trace
from simulations.experiments.tables import TraceError
from simulations.loader import load_scenario
from simulations.report import is_long, print_summary, progress_bar, write_report
from simulations.result import dumps, write_json
from simulations.runner import simulate
from simulations.scenario import Problem, ScenarioError

EXIT_EXPECTATION_FAILED = 1
EXIT_BAD_SCENARIO = 2
STDOUT = Path("-")


def output_problem(path: Path, *, folder: bool) -> str | None:
    """Why `path` cannot receive an output file (or, with folder, files), if it cannot."""
    if path == STDOUT and not folder:
        return None
    if folder and path.exists() and not path.is_dir():
        return f"{path} exists and is not a folder"
    if not folder and path.is_dir():
        return f"{path} is a folder; give a file name, e.g. {path / 'result.json'}"
    target = path if folder and path.is_dir() else path.parent
    while not target.exists() and target != target.parent:
        target = target.parent  # the nearest folder that exists is where mkdir starts
    if not target.is_dir():
        return f"{target} is not a folder"
    if not os.access(target, os.W_OK | os.X_OK):
        return f"{target} is not writable"
    if not folder and path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    return None


def _check_outputs(json_file: Path | None, report_dir: Path | None) -> None:
    for option, path, folder in (("--json", json_file, False), ("--report", report_dir, True)):
        problem = None if path is None else output_problem(path, folder=folder)
        if problem is not None:
            typer.echo(f"error: {option}: {problem}", err=True)
            raise typer.Exit(EXIT_BAD_SCENARIO)


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
        typer.Option(
            "--report",
            help="Write report.html, allocation.png and allocation.csv into this folder.",
        ),
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
    _check_outputs(json_file, report_dir)
    advice: list[Problem] = []
    try:
        path = Path(str(scenario))
        sim = load_trace(trace) if trace is not None else load_scenario(path, advice)
    except ScenarioError as e:
        typer.echo(f"invalid scenario ({len(e.problems)} problem(s)):", err=True)
        typer.echo(str(e), err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO) from None
    except TraceError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO) from None
    for problem in advice:
        typer.echo(f"warning: {scenario}: {problem.entry}: {problem.reason}", err=True)
    err = Console(stderr=True)
    out = err if json_file == STDOUT else Console()  # stdout is then the JSON alone
    long_run = is_long(sim.until, sim.cycle_seconds, len(sim.workloads))
    with progress_bar(err, long_run, sim.until) as progress:
        result = simulate(sim, progress)
    print_summary(result, out)
    try:
        if json_file == STDOUT:
            typer.echo(dumps(result))
        elif json_file is not None:
            write_json(result, json_file)
            out.print(f"result: {json_file}", highlight=False)
        if report_dir is not None:
            for path in write_report(result, report_dir):
                out.print(f"report: {path}", highlight=False)
    except OSError as e:  # checked before the run; a full disk can still refuse
        typer.echo(f"error: cannot write {e.filename or 'the output'}: {e.strerror}", err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO) from None
    if not result.passed:
        typer.echo(f"{len(result.failed_checks)} expectation check(s) failed:", err=True)
        for check in result.failed_checks:
            typer.echo(f"  {check.message}", err=True)
        raise typer.Exit(EXIT_EXPECTATION_FAILED)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this package's commands to the root app and the bench group."""
    app.command("simulate")(simulate_command)
