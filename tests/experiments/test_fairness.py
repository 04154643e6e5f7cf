"""The fairness experiment: Philly loaders name the bad line, VC quotas divide the cluster
exactly, and the three reclaim modes differ the way they are defined."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulations.experiments.fairness import Setup, jain, run_mode
from simulations.experiments.philly import PhillyJob, deserved_gpus, load_jobs, load_vcs
from simulations.experiments.tables import TraceError

JOBS_HEADER = "timestamp,duration,num_gpus,gpu_time,cluster\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(JOBS_HEADER + "2017-10-09 07:01:55,66.0,1,66,a\n2017-10-09 7h,1,1,1,a\n",
                     "line 3: timestamp: expected YYYY-MM-DD HH:MM:SS",
                     id="a bad timestamp names its line"),
        pytest.param(JOBS_HEADER + "2017-10-09 07:01:55,66.0,0,66,a\n",
                     "line 2: num_gpus: must be at least 1", id="a job without GPUs is refused"),
        pytest.param(JOBS_HEADER + "2017-10-09 07:01:55,66.0,1,66,\n",
                     "line 2: cluster: must not be empty", id="a job without a VC is refused"),
    ],
)
def test_job_loader_names_the_bad_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text(text)
    with pytest.raises(TraceError, match=re.escape(message)):
        load_jobs(path)


def test_vc_loader_refuses_a_repeated_vc(tmp_path: Path) -> None:
    path = tmp_path / "vcs.csv"
    path.write_text("vc,node num\na,2\na,3\n")
    with pytest.raises(TraceError, match=re.escape("line 3: vc: 'a' appears twice")):
        load_vcs(path)


def test_jobs_are_ordered_by_submit_time_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text(JOBS_HEADER + "2017-10-09 08:00:00,10,2,20,b\n2017-10-09 07:00:00,5,1,5,a\n")
    assert [(j.submit_s, j.vc, j.gpus) for j in load_jobs(path)] == [(0, "a", 1), (3600, "b", 2)]


@pytest.mark.parametrize(
    ("weights", "capacity", "expected"),
    [
        pytest.param({"a": 1, "b": 1, "c": 1}, 10, {"a": 4, "b": 3, "c": 3},
                     id="a tie in remainders goes by name"),
        pytest.param({"a": 64, "b": 32, "c": 16}, 56, {"a": 32, "b": 16, "c": 8},
                     id="exact shares stay exact"),
    ],
)
def test_vc_quotas_divide_the_cluster_exactly(
    weights: dict[str, int], capacity: int, expected: dict[str, int]
) -> None:
    assert deserved_gpus(weights, capacity) == expected


def test_jains_index_is_one_when_everyone_gets_the_same_share() -> None:
    assert jain([1.0, 1.0, 1.0]) == 1.0
    assert jain([1.0, 0.0]) == 0.5


def test_the_three_modes_reclaim_to_fair_share_to_deserved_and_not_at_all() -> None:
    # 8 GPUs; a and b deserve 2 each, idle c deserves 4. b borrows all 8 first; when a
    # arrives its fair share is 4 (c's surplus split evenly), its deserved quota 2.
    jobs = [PhillyJob(f"b{i}", 0, 20_000, 1, "b") for i in range(8)]
    jobs += [PhillyJob(f"a{i}", 600, 20_000, 1, "a") for i in range(8)]
    setup = Setup(nodes=1, gpus_per_node=8, cycle_seconds=60)
    vcs = {"a": 1, "b": 1, "c": 2}
    evictions = {m: run_mode(jobs, vcs, setup, m).evictions for m in ("fair", "deserved", "none")}
    assert evictions == {"fair": 4, "deserved": 2, "none": 0}
