"""Skipping the periodic cycles in which nothing can change changes no decision: the shipped
scenarios and a slice of the Philly trace replay the same both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.experiments.fairness import Setup, build_input
from simulations.experiments.philly import load_jobs, load_vcs
from simulations.loader import load_scenario
from simulations.result import to_document
from simulations.runner import Simulation

ROOT = Path(__file__).resolve().parents[2]
PHILLY = ROOT / ".." / "shared" / "data" / "philly"
SCENARIOS = sorted((ROOT / "simulations" / "scenarios").glob("*.yaml"))


def both_ways(sim_input: object) -> tuple[dict[str, object], dict[str, object], int]:
    runs = []
    for skip in (False, True):
        sim = Simulation(sim_input, skip_idle=skip)  # type: ignore[arg-type]
        doc = to_document(sim.run())
        totals = dict(doc["totals"])  # type: ignore[call-overload]
        totals.pop("cycles")  # what differs: how many cycles ran, and so each entry's
        doc["totals"] = totals  # cycle number; the instants and decisions must not
        for log in ("evictions", "bindings"):
            doc[log] = [{k: v for k, v in e.items() if k != "cycle"} for e in doc[log]]  # type: ignore[attr-defined]
        runs.append((doc, sim.skipped_cycles))
    return runs[0][0], runs[1][0], runs[1][1]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_shipped_scenario_replays_the_same_with_idle_cycles_skipped(path: Path) -> None:
    plain, skipping, _ = both_ways(load_scenario(path))
    assert plain == skipping


@pytest.mark.skipif(not PHILLY.is_dir(), reason="../shared/data is not beside the repo")
@pytest.mark.parametrize("mode", ["fair", "none"])
def test_a_philly_slice_replays_the_same_with_idle_cycles_skipped(mode: str) -> None:
    jobs = [j for j in load_jobs(PHILLY / "philly_pollux_jobs.csv") if j.duration_s <= 1800][:150]
    vcs = load_vcs(PHILLY / "philly_vc_node_num.csv")
    plain, skipping, skipped = both_ways(build_input(jobs, vcs, Setup(nodes=3, load=50), mode))
    assert plain == skipping
    assert skipped > 0
