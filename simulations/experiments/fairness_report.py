"""Files and tables of the fairness experiment: summary.csv, projects.csv, jain.csv, jain.png.

Owns the output formats: one summary row per mode (utilisation, mean Jain's index, evictions,
GPU-hours lost, queueing delay over all jobs), one row per (mode, project) with its queueing
delay (mean, p50, p95), completion time and time spent below its fair share while it had
pending work, Jain's index over time per mode as CSV and a PNG. It must not run replays.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from simulations.experiments.fairness import ModeResult

SUMMARY = ("mode", "utilization", "jain_mean", "evictions", "lost_gpu_hours",
           "queue_mean_s", "below_fair_share_hours")
PROJECT = ("mode", "project", "deserved_gpus", "jobs", "finished", "queue_mean_s",
           "queue_p50_s", "queue_p95_s", "jct_mean_s", "below_fair_share_s")


def _queue_mean(r: ModeResult) -> float:
    jobs = sum(p.jobs for p in r.projects)
    return round(sum(p.queue_mean_s * p.jobs for p in r.projects) / jobs, 1) if jobs else 0.0


def summary_row(r: ModeResult) -> list[object]:
    below = round(sum(p.below_fair_share_s for p in r.projects) / 3600, 1)
    return [r.mode, f"{r.utilization:.4f}", f"{r.jain_mean:.4f}", r.evictions,
            f"{r.lost_gpu_hours:.1f}", f"{_queue_mean(r):.1f}", f"{below:.1f}"]


def write_fairness(results: Sequence[ModeResult], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "summary.csv", out / "projects.csv", out / "jain.csv"]
    with paths[0].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY)
        w.writerows(summary_row(r) for r in results)
    with paths[1].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(PROJECT)
        for r in results:
            for p in r.projects:
                w.writerow([r.mode, p.project, p.deserved_gpus, p.jobs, p.finished,
                            p.queue_mean_s, p.queue_p50_s, p.queue_p95_s, p.jct_mean_s,
                            p.below_fair_share_s])
    with paths[2].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mode", "at", "jain"])
        for r in results:
            w.writerows([r.mode, at, v] for at, v in r.jain_series)
    return [*paths, _plot(results, out / "jain.png")]


def _plot(results: Sequence[ModeResult], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=120)
    for r in results:
        ax.step([at / 3600 for at, _ in r.jain_series], [v for _, v in r.jain_series],
                where="post", label=r.mode)
    ax.set_xlabel("simulated hours")
    ax.set_ylabel("Jain's index (allocated / fair share)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summary_table(results: Sequence[ModeResult]) -> Table:
    t = Table(title="fairness over time, per reclaim mode", title_justify="left")
    for column in SUMMARY:
        t.add_column(column, justify="left" if column == "mode" else "right")
    for r in results:
        t.add_row(*(str(v) for v in summary_row(r)))
    return t
