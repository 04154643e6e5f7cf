"""`quotient experiment ...`: the trace studies' commands.

Owns the command-line surface of the experiments and its exit statuses: 0 on success, 1
when a comparison is out of tolerance, 2 for bad input (a missing or malformed trace, an
unknown policy, bad seeds), always as one line on stderr. Runs of (trace, policy, seed)
go to parallel worker processes. It must not replay or measure itself.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from simulations.experiments.fairness import MODES, Setup, run_mode
from simulations.experiments.fairness_report import summary_table, write_fairness
from simulations.experiments.fgd_compare import compare, load_authors, load_results
from simulations.experiments.fgd_replay import POLICIES, TUNE, RunResult, replay
from simulations.experiments.fgd_report import speed_summary, write_results
from simulations.experiments.openb import TraceNode, TracePod, load_nodes, load_pods
from simulations.experiments.philly import load_jobs, load_vcs
from simulations.experiments.tables import TraceError

EXIT_OUT_OF_TOLERANCE = 1
EXIT_BAD_INPUT = 2


def parse_seeds(text: str) -> list[int]:
    """"42-51", "42,43" or "7"."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            a, b = int(low), int(high or low)
            if b < a:
                raise ValueError
            seeds.extend(range(a, b + 1))
    except ValueError:
        raise typer.BadParameter(f"--seeds: expected e.g. 42-51 or 42,43, got {text!r}") from None
    return seeds


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(EXIT_BAD_INPUT)


_Job = tuple[str, int, float]


def _run(args: tuple[list[TraceNode], list[TracePod], str, int, float]) -> RunResult:
    nodes, pods, policy, seed, tune = args
    return replay(nodes, pods, policy, seed, tune=tune)


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console,
    )


def run_all(
    nodes: list[TraceNode], pods: list[TracePod], jobs: list[_Job], workers: int, label: str
) -> list[RunResult]:
    err = Console(stderr=True)
    results: list[RunResult] = []
    with _bar(err) as bar:
        if workers <= 1 or len(jobs) == 1:
            for policy, seed, tune in jobs:
                task = bar.add_task(f"{label} {policy} seed {seed}", total=None)

                def advance(k: int, n: int, t: TaskID = task) -> None:
                    bar.update(t, completed=k, total=n)

                results.append(replay(nodes, pods, policy, seed, tune=tune, progress=advance))
            return results
        task = bar.add_task(f"{label}: runs", total=len(jobs))
        with ProcessPoolExecutor(workers) as pool:
            for r in pool.map(_run, [(nodes, pods, p, s, t) for p, s, t in jobs]):
                results.append(r)
                bar.advance(task)
    return results


def fgd_command(
    nodes: Annotated[Path, typer.Option("--nodes", help="OpenB node list CSV")],
    pods: Annotated[list[Path], typer.Option("--pods", help="OpenB pod list CSV (repeatable)")],
    out: Annotated[Path, typer.Option("--out", help="Output folder")],
    policy: Annotated[
        list[str], typer.Option("--policy", help=f"One of {', '.join(POLICIES)} or all")
    ] = ["all"],  # noqa: B006
    seeds: Annotated[str, typer.Option("--seeds", help="e.g. 42-51")] = "42-51",
    tune: Annotated[float, typer.Option("--tune", help="Arrive up to this x GPU capacity")] = TUNE,
    workers: Annotated[int, typer.Option("--jobs", help="Parallel processes")] = 2,
) -> None:
    """Replay the FGD paper's experiment: pods arrive, never leave, are dropped if no fit."""
    policies = list(POLICIES) if policy == ["all"] else policy
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise _fail(f"--policy: unknown {unknown[0]!r}; choose from {', '.join(POLICIES)}, all")
    if not 0 < tune <= 10:
        raise _fail(f"--tune: must be in (0, 10], got {tune}")
    seed_list = parse_seeds(seeds)
    try:
        node_list = load_nodes(nodes)
        traces = [(p, load_pods(p)) for p in pods]
    except TraceError as e:
        raise _fail(str(e)) from None
    console = Console()
    for path, pod_list in traces:
        jobs = [(p, s, tune) for p in policies for s in seed_list]
        runs = run_all(node_list, pod_list, jobs, workers, path.stem)
        folder = out if len(traces) == 1 else out / path.stem
        for written in write_results(runs, folder):
            console.print(f"wrote {written}", highlight=False)
        table = Table(title=f"{path.stem}: speed", title_justify="left")
        for column in ("policy", "median s/run", "arrivals/s"):
            table.add_column(column, justify="right")
        for name, seconds, rate in speed_summary(runs):
            table.add_row(name, f"{seconds:.1f}", f"{rate:.0f}")
        console.print(table)


def fgd_compare_command(
    results: Annotated[Path, typer.Argument(help="results.csv of `quotient experiment fgd`")],
    expected: Annotated[
        Path, typer.Option("--expected", help="The authors' analysis_allo_discrete.csv")
    ],
    workload: Annotated[
        str, typer.Option("--workload", help="Trace name, e.g. openb_pod_list_default")
    ],
    tolerance: Annotated[float, typer.Option(help="Allowed difference, percentage points")] = 1.0,
) -> None:
    """Allocation ratio at 100% and 130% arrived, ours against the authors' tables."""
    try:
        diffs = compare(load_results(results), load_authors(expected, workload))
    except TraceError as e:
        raise _fail(str(e)) from None
    if not diffs:
        raise _fail(f"{results}: no policy and seed in common with {expected}")
    table = Table(title=f"{workload}: allocation ratio (%), mean over seeds", title_justify="left")
    for column in ("policy", "arrived %", "seeds", "ours", "authors", "difference"):
        table.add_column(column, justify="right")
    off = []
    for d in diffs:
        versus = " (vs FGD)" if d.policy == "quotient" else ""
        table.add_row(d.policy + versus, str(d.arrived_pct), str(d.seeds), f"{d.ours:.2f}",
                      f"{d.theirs:.2f}", f"{d.delta:+.2f}")
        if d.policy != "quotient" and abs(d.delta) > tolerance:
            off.append(d)
    Console().print(table)
    if off:
        typer.echo(f"{len(off)} baseline value(s) differ by more than {tolerance} points", err=True)
        raise typer.Exit(EXIT_OUT_OF_TOLERANCE)


def fairness_command(
    jobs: Annotated[Path, typer.Option("--jobs", help="philly_pollux_jobs.csv")],
    vcs: Annotated[Path, typer.Option("--vcs", help="philly_vc_node_num.csv")],
    out: Annotated[Path, typer.Option("--out", help="Output folder")],
    nodes: Annotated[int, typer.Option(help="Cluster size in nodes")] = 352,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node")] = 8,
    load: Annotated[float, typer.Option(help="Arrivals sped up by this factor")] = 1.0,
    limit: Annotated[int, typer.Option(help="Replay the first N jobs (0 = all)")] = 0,
    mode: Annotated[
        list[str] | None, typer.Option(help="fair, deserved, none (repeatable; default all)")
    ] = None,
) -> None:
    """Replay Philly's jobs with each VC as a project under three reclaim modes."""
    mode = mode or list(MODES)
    unknown = [m for m in mode if m not in MODES]
    if unknown:
        raise _fail(f"--mode: unknown {unknown[0]!r}; choose from {', '.join(MODES)}")
    if nodes < 1 or gpus_per_node < 1 or not load > 0 or limit < 0:
        raise _fail("--nodes, --gpus-per-node and --load must be positive, --limit >= 0")
    try:
        job_list, vc_nodes = load_jobs(jobs), load_vcs(vcs)
    except TraceError as e:
        raise _fail(str(e)) from None
    chosen = job_list[:limit] if limit else job_list
    setup = Setup(nodes, gpus_per_node, load)
    err = Console(stderr=True)
    results = []
    with _bar(err) as bar:
        task = bar.add_task("fairness: modes", total=len(mode))
        for m in mode:
            results.append(run_mode(chosen, vc_nodes, setup, m))
            bar.advance(task)
    console = Console()
    for written in write_fairness(results, out):
        console.print(f"wrote {written}", highlight=False)
    console.print(summary_table(results))


def register(app: typer.Typer) -> None:
    """Add the `experiment` group to the root app."""
    group = typer.Typer(help="Trace-driven studies (FGD packing, fairness).", no_args_is_help=True)
    group.command("fgd")(fgd_command)
    group.command("fgd-compare")(fgd_compare_command)
    group.command("fairness")(fairness_command)
    app.add_typer(group, name="experiment")
