"""Our FGD replay's results against the authors' published tables.

Owns reading `results.csv` (policy, seed, arrived_pct, alloc_pct, frag_rate_pct, frag_pct)
and the authors' `analysis_allo_discrete.csv` (one row per workload, policy and seed;
columns 0..130), and the comparison: per policy, the mean over the seeds present in both of
the allocation ratio at the chosen arrived percents, ours against theirs. `quotient` is set
against the authors' FGD. It must not run replays.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulations.experiments.tables import TraceError, integer, number, read_rows

AUTHORS_POLICY = {
    "random": "01-Random",
    "dotprod": "02-DotProd",
    "clustering": "03-GpuClustering",
    "packing": "04-GpuPacking",
    "bestfit": "05-BestFit",
    "fgd": "06-FGD",
    "quotient": "06-FGD",
}
RESULT_COLUMNS = ("policy", "seed", "arrived_pct", "alloc_pct", "frag_rate_pct", "frag_pct")


@dataclass(frozen=True)
class Difference:
    policy: str
    arrived_pct: int
    ours: float
    theirs: float
    seeds: int

    @property
    def delta(self) -> float:
        return self.ours - self.theirs


def load_results(path: Path) -> dict[tuple[str, int, int], float]:
    """(policy, seed, arrived_pct) -> alloc_pct."""

    def row(r: dict[str, str], line: int) -> tuple[tuple[str, int, int], float]:
        return (r["policy"].strip(), integer(r, "seed"), integer(r, "arrived_pct")), number(
            r, "alloc_pct"
        )

    return dict(read_rows(path, RESULT_COLUMNS, row))


def load_authors(path: Path, workload: str) -> dict[tuple[str, int, int], float]:
    """(authors' policy, seed, arrived_pct) -> alloc_pct, for one workload trace."""
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    out: dict[tuple[str, int, int], float] = {}

    def row(r: dict[str, str], line: int) -> None:
        if r["workload"].strip() != workload:
            return
        seed = integer(r, "seed")
        for pct in range(131):
            if r.get(str(pct), "").strip():
                out[(r["sc_policy"].strip(), seed, pct)] = number(r, str(pct))

    read_rows(path, ("workload", "sc_policy", "seed"), row)
    if not out:
        raise TraceError(f"{path}: no rows for workload {workload!r}")
    return out


def compare(
    ours: dict[tuple[str, int, int], float],
    theirs: dict[tuple[str, int, int], float],
    at: Sequence[int] = (100, 130),
) -> list[Difference]:
    diffs = []
    for policy in sorted({k[0] for k in ours}):
        authors = AUTHORS_POLICY.get(policy)
        if authors is None:
            continue
        for pct in at:
            seeds = sorted(
                s for p, s, a in ours if p == policy and a == pct and (authors, s, pct) in theirs
            )
            if not seeds:
                continue
            mine = statistics.fmean(ours[(policy, s, pct)] for s in seeds)
            ref = statistics.fmean(theirs[(authors, s, pct)] for s in seeds)
            diffs.append(Difference(policy, pct, round(mine, 2), round(ref, 2), len(seeds)))
    return diffs
