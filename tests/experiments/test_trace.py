"""`quotient simulate --trace FILE`: a PAI-simulator job list replays as one pool; a bad
line is named; a scenario and a trace together are refused."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from quotient.cli import build_app
from simulations.experiments.pai import load_trace
from simulations.runner import simulate

HEADER = "job_id,user,submit_time,duration,num_gpu,num_cpu,num_inst\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.csv"
    path.write_text(HEADER + text)
    return path


def test_a_trace_replays_as_one_pool_and_every_job_finishes(tmp_path: Path) -> None:
    path = write(tmp_path, "0,a,0,100,2,0,1\n1,b,0,50,12,0,1\n2,c,10,30,16,0,1\n")
    sim = load_trace(path, nodes=2, gpus_per_node=8)
    assert [len(t.workload.pods) for t in sim.workloads] == [1, 2, 2]  # 12 = 8 + 4 as a gang
    result = simulate(sim)
    ended = {n: w.ended_at for n, w in result.final.workloads.items()}
    assert ended == {"job-0": 100, "job-1": 50, "job-2": 130}  # job-2 waits for both nodes


def test_simulate_trace_names_the_bad_line_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "0,a,0,100,2,0,1\n1,a,0,100,-1,0,1\n")
    result = CliRunner().invoke(build_app(), ["simulate", "--trace", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{path}: line 3: num_gpu: must be at least 1, got '-1'"


def test_simulate_wants_a_scenario_or_a_trace_not_both(tmp_path: Path) -> None:
    path = write(tmp_path, "0,a,0,100,2,0,1\n")
    result = CliRunner().invoke(build_app(), ["simulate", str(path), "--trace", str(path)])
    assert result.exit_code == 2 and "one of them" in result.stderr
