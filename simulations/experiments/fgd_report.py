"""Files and tables of the FGD replay: results.csv, speed.csv and the paper's plot.

Owns the output formats: `results.csv` with one row per (policy, seed, arrived percent),
`speed.csv` with one row per run (arrivals, placed, seconds, arrivals/s), and `alloc.png`,
the unallocated GPU share against the arrived workload, median over seeds per policy (the
paper's Fig. 7 view). matplotlib runs headless. It must not run replays.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from pathlib import Path

from simulations.experiments.fgd_compare import RESULT_COLUMNS
from simulations.experiments.fgd_replay import RunResult


def write_results(runs: Sequence[RunResult], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    results, speed = out_dir / "results.csv", out_dir / "speed.csv"
    with results.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RESULT_COLUMNS)
        for run in sorted(runs, key=lambda r: (r.policy, r.seed)):
            for row in run.rows:
                w.writerow([row.policy, row.seed, row.arrived_pct, f"{row.alloc_pct:.2f}",
                            f"{row.frag_rate_pct:.2f}", f"{row.frag_pct:.2f}"])
    with speed.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["policy", "seed", "arrivals", "placed", "seconds", "arrivals_per_second"])
        for run in sorted(runs, key=lambda r: (r.policy, r.seed)):
            w.writerow([run.policy, run.seed, run.arrivals, run.placed, f"{run.seconds:.2f}",
                        f"{run.arrivals_per_second:.0f}"])
    return [results, speed, plot_unallocated(runs, out_dir / "alloc.png")]


def plot_unallocated(runs: Sequence[RunResult], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=120)
    for policy in sorted({r.policy for r in runs}):
        by_pct: dict[int, list[float]] = {}
        for run in runs:
            if run.policy == policy:
                for row in run.rows:
                    by_pct.setdefault(row.arrived_pct, []).append(100.0 - row.alloc_pct)
        xs = sorted(by_pct)
        ax.plot(xs, [statistics.median(by_pct[x]) for x in xs], label=policy)
    ax.set_xlabel("arrived workload (% of cluster GPU capacity)")
    ax.set_ylabel("unallocated GPU (%)")
    ax.set_xlim(0, 130)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def speed_summary(runs: Sequence[RunResult]) -> list[tuple[str, float, float]]:
    """(policy, median seconds per run, median arrivals per second)."""
    out = []
    for policy in sorted({r.policy for r in runs}):
        mine = [r for r in runs if r.policy == policy]
        out.append((
            policy,
            statistics.median(r.seconds for r in mine),
            statistics.median(r.arrivals_per_second for r in mine),
        ))
    return out
