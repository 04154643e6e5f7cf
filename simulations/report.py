"""What a person sees of a run: tables, the allocation chart and CSV, a progress bar.

Owns the presentation of a `SimulationResult`: a rich table per project (deserved, fair
share, allocated, running, pending) and one line per pending workload with its reason;
`allocation.png`, a stacked step chart of GPUs allocated per project over time with the
capacity line (the view Run:ai's analytics dashboard gives), and `allocation.csv` with the
same data; and a progress bar for long runs. matplotlib runs headless (Agg). It must not
change results or decide anything.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fairshare.resources import format_gpus, milli_to_float
from simulations.cluster import State
from simulations.result import SimulationResult
from simulations.runner import Progress as ProgressCallback

LONG_RUN_CYCLES = 2000  # a run expected to take more periodic cycles than this shows a bar


def _opt(milli: int | None) -> str:
    return "-" if milli is None else format_gpus(milli)


def project_table(r: SimulationResult) -> Table:
    t = Table(title=f"{r.sim.name}: projects at t={r.final.at}s", title_justify="left")
    for column in ("project", "deserved", "fair share", "allocated", "running", "pending"):
        t.add_column(column, justify="left" if column == "project" else "right")
    for p in r.final.projects.values():
        t.add_row(
            p.name,
            format_gpus(p.deserved_milli),
            _opt(p.fair_share_milli),
            format_gpus(p.allocated_milli),
            str(p.running),
            str(p.pending),
        )
    cap = r.sim.capacity_milli
    t.caption = (
        f"{format_gpus(r.final.allocated_milli)}/{format_gpus(cap)} GPUs allocated; "
        f"utilisation {r.utilization:.1%} over the run; {len(r.evictions)} eviction(s); "
        f"{r.cycles} cycle{'' if r.cycles == 1 else 's'}"
    )
    return t


def pending_table(r: SimulationResult) -> Table | None:
    waiting = [w for w in r.final.workloads.values() if w.state == State.PENDING]
    if not waiting:
        return None
    t = Table(title="pending workloads", title_justify="left")
    for column in ("workload", "project", "reason", "message"):
        t.add_column(column, overflow="fold")
    for w in waiting:
        code, message = (w.reason.code, w.reason.message) if w.reason else ("-", "")
        t.add_row(w.name, w.project, code, message)
    return t


def print_summary(r: SimulationResult, console: Console) -> None:
    console.print(project_table(r))
    pending = pending_table(r)
    if pending is not None:
        console.print(pending)
    if r.refused:
        console.print(f"[red]{len(r.refused)} binding(s) refused by the cluster[/red]")
    if r.checks:
        console.print(
            f"expectations: {len(r.checks) - len(r.failed_checks)}/{len(r.checks)} held",
            highlight=False,
        )


# ------------------------------------------------------------------ chart and CSV


def _series(r: SimulationResult) -> tuple[list[int], dict[str, list[int]]]:
    """Step points (t, milli per project), closed at `until` so the last step shows."""
    points = list(r.timeline)
    times = [p.at for p in points]
    names = sorted(r.final.projects)
    series = {n: [p.allocated_milli.get(n, 0) for p in points] for n in names}
    if points and times[-1] < r.sim.until:
        times.append(r.sim.until)
        for n in names:
            series[n].append(series[n][-1])
    return times, series


def write_csv(r: SimulationResult, path: Path) -> None:
    times, series = _series(r)
    names = list(series)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["t_seconds", *names, "allocated_gpus", "capacity_gpus"])
        for i, at in enumerate(times):
            row = [series[n][i] for n in names]
            out.writerow(
                [
                    at,
                    *(format_gpus(m) for m in row),
                    format_gpus(sum(row)),
                    format_gpus(r.sim.capacity_milli),
                ]
            )


def write_png(r: SimulationResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    times, series = _series(r)
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    try:
        if times:
            ys = [[milli_to_float(m) for m in series[n]] for n in series]
            ax.stackplot(times, ys, labels=list(series), step="post", alpha=0.85)
        capacity = milli_to_float(r.sim.capacity_milli)
        ax.plot([0, r.sim.until], [capacity, capacity], "k--", linewidth=1, label="capacity")
        ax.set_xlim(0, r.sim.until)
        ax.set_ylim(0, capacity * 1.1 or 1)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("GPUs allocated")
        ax.set_title(f"{r.sim.name}: GPUs allocated per project")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        # Fixed metadata: the same run gives the same bytes.
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)


def write_report(r: SimulationResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    png, table = directory / "allocation.png", directory / "allocation.csv"
    write_png(r, png)
    write_csv(r, table)
    return [png, table]


# --------------------------------------------------------------------- progress


def is_long(until: int, cycle_seconds: int, workloads: int) -> bool:
    return until // max(cycle_seconds, 1) > LONG_RUN_CYCLES or workloads > LONG_RUN_CYCLES


@contextmanager
def progress_bar(console: Console, enabled: bool, until: int) -> Iterator[ProgressCallback | None]:
    """A callback that moves a bar over simulated time; None when there is nothing to show."""
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("t={task.completed:.0f}/{task.total:.0f}s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("simulate", total=until)

        def advance(now: int, until: int) -> None:
            bar.update(task, completed=now, total=until)

        yield advance
