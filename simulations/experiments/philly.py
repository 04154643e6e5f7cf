"""Microsoft's Philly trace (the Pollux artifact's job list) and its virtual clusters.

Owns the schema of `philly_pollux_jobs.csv` (timestamp "YYYY-MM-DD HH:MM:SS", duration
seconds, num_gpus, gpu_time, cluster = the VC hash) and of `philly_vc_node_num.csv` (vc,
node num), their validation, and turning VCs into quota: each VC deserves its share of the
cluster's nodes, in whole GPUs (largest remainder, ties by name). It must not replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulations.experiments.tables import TraceError, integer, number, read_rows


@dataclass(frozen=True)
class PhillyJob:
    name: str
    submit_s: int  # seconds since the first job of the file
    duration_s: int
    gpus: int
    vc: str


def load_jobs(path: Path) -> list[PhillyJob]:
    rows: list[tuple[datetime, int, int, str, int]] = []

    def row(r: dict[str, str], line: int) -> None:
        text = r["timestamp"].strip()
        try:
            at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise ValueError(f"timestamp: expected YYYY-MM-DD HH:MM:SS, got {text!r}") from None
        duration = number(r, "duration")
        gpus = integer(r, "num_gpus", minimum=1)
        vc = r["cluster"].strip()
        if not vc:
            raise ValueError("cluster: must not be empty")
        rows.append((at, max(round(duration), 1), gpus, vc, line))

    read_rows(path, ("timestamp", "duration", "num_gpus", "cluster"), row)
    if not rows:
        raise TraceError(f"{path}: no jobs")
    rows.sort(key=lambda t: (t[0], t[4]))
    start = rows[0][0]
    return [
        PhillyJob(f"job-{line:06d}", int((at - start).total_seconds()), d, g, vc)
        for at, d, g, vc, line in rows
    ]


def load_vcs(path: Path) -> dict[str, int]:
    """VC -> node count."""
    out: dict[str, int] = {}

    def row(r: dict[str, str], line: int) -> None:
        vc = r["vc"].strip()
        if not vc:
            raise ValueError("vc: must not be empty")
        if vc in out:
            raise ValueError(f"vc: {vc!r} appears twice")
        out[vc] = integer(r, "node num", minimum=1)

    read_rows(path, ("vc", "node num"), row)
    if not out:
        raise TraceError(f"{path}: no virtual clusters")
    return out


def deserved_gpus(weights: dict[str, int], capacity_gpus: int) -> dict[str, int]:
    """Whole GPUs per VC in proportion to its weight; largest remainder, ties by name."""
    total = sum(weights.values())
    exact = {vc: w * capacity_gpus for vc, w in weights.items()}
    out = {vc: e // total for vc, e in exact.items()}
    left = capacity_gpus - sum(out.values())
    by_remainder = sorted(weights, key=lambda vc: (-(exact[vc] % total), vc))
    for vc in by_remainder[:left]:
        out[vc] += 1
    return out
