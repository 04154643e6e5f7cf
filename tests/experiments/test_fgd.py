"""The FGD replay: loaders name the bad line, arrivals follow the authors' rules, every
policy runs on a subsample of OpenB without over-committing, results are reproducible, and
`fgd-compare` reads the authors' tables (the smoke test of the full comparison)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quotient.cli import build_app
from simulations.experiments.fgd_model import Shape, Typical, shape_fragment, typical_shapes
from simulations.experiments.fgd_replay import POLICIES, arrivals, replay
from simulations.experiments.openb import TraceNode, TracePod, load_nodes, load_pods
from simulations.experiments.tables import TraceError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
OPENB = DATA / "openb"
EXPECTED = DATA / "fgd-expected-results" / "analysis_allo_discrete.csv"
NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model\n"
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"

needs_data = pytest.mark.skipif(not OPENB.is_dir(), reason="../shared/data is not beside the repo")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(POD_HEADER + "p0,1000,10,1,x,\n", "line 2: gpu_milli: expected a number",
                     id="a non-number names the line and field"),
        pytest.param(POD_HEADER + "p0,1000,10,1,500,\np1,1000,10,2,500,\n",
                     "line 3: gpu_milli: a 2-GPU pod must ask whole GPUs",
                     id="a shared multi-GPU pod is refused"),
        pytest.param(POD_HEADER + "p0,1000,10,1,1200,\n", "gpu_milli: must be 1..1000",
                     id="more than a GPU's milli is refused"),
        pytest.param(POD_HEADER + "p0,1000,10,1,500,\np0,1000,10,1,500,\n",
                     "line 3: name: 'p0' appears twice", id="a repeated name is refused"),
        pytest.param(POD_HEADER + "p0,-5,10,1,500,\n", "cpu_milli: must be at least 0",
                     id="a negative request is refused"),
        pytest.param("name,cpu_milli\np0,1\n", "line 1: missing column(s) memory_mib",
                     id="a missing column is named"),
    ],
)
def test_pod_loader_names_the_bad_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TraceError, match=re.escape(message)):
        load_pods(write(tmp_path, "pods.csv", text))


def test_a_missing_file_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=re.escape(f"{tmp_path / 'nodes.csv'}: no such file")):
        load_nodes(tmp_path / "nodes.csv")


def test_node_loader_keeps_gpu_nodes_only(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", NODE_HEADER + "a,64000,1024,2,T4\nb,32000,1024,0,\n")
    assert [n.name for n in load_nodes(path)] == ["a"]


@pytest.mark.parametrize(
    ("cpu_free", "shape", "fragment"),
    [
        pytest.param(8000, Shape(4000, 500, 1), 300, id="a sliver too small is fragment"),
        pytest.param(2000, Shape(4000, 500, 1), 1300, id="lacking CPU: all idle is fragment"),
        pytest.param(8000, Shape(4000, 1000, 2), 1300, id="lacking GPUs: all idle is fragment"),
        pytest.param(8000, Shape(4000, 0, 0), 1300, id="CPU-only shapes count all idle"),
        pytest.param(8000, Shape(4000, 1000, 1, ("V100",)), 1300, id="no model access: all"),
    ],
)
def test_shape_fragment_is_the_papers(cpu_free: int, shape: Shape, fragment: int) -> None:
    assert shape_fragment([1000, 300], cpu_free, "T4", shape) == fragment


def test_typical_shapes_cover_95_percent_most_frequent_first() -> None:
    pods = [TracePod(f"p{i}", 1000, 1, 1, 500) for i in range(96)]
    pods += [TracePod(f"q{i}", 2000, 1, 1, 1000) for i in range(4)]
    assert typical_shapes(pods) == [Typical(Shape(1000, 500, 1), 1.0)]


def test_arrivals_are_shuffled_per_seed_and_topped_up_to_the_target() -> None:
    pods = [TracePod(f"p{i}", 1000, 1, 1, 1000) for i in range(10)]
    first, again, other = (arrivals(pods, 20_000, s) for s in (1, 1, 2))
    assert first == again and first != other
    assert sum(p.total_gpu_milli for p in first) == 26_000  # 1.3 x 20 GPUs
    assert first[10].name.endswith("-tuned-0")


def subsample() -> tuple[list[TraceNode], list[TracePod]]:
    nodes = load_nodes(OPENB / "openb_node_list_gpu_node.csv")[::8]
    return nodes, load_pods(OPENB / "openb_pod_list_default.csv")


@needs_data
@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_replays_a_subsample_within_capacity(policy: str) -> None:
    nodes, pods = subsample()
    run = replay(nodes, pods, policy, 42)  # the replay re-checks every choice it applies
    pct = {r.arrived_pct: r.alloc_pct for r in run.rows}
    assert pct[0] < 1 and set(pct) == set(range(131))
    assert 60 < pct[130] <= 100
    assert pct[50] <= pct[100] <= pct[130]


@needs_data
def test_cli_writes_reproducible_results_and_compares_with_the_authors(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.csv"
    lines = (OPENB / "openb_node_list_gpu_node.csv").read_text().splitlines()
    nodes.write_text("\n".join([lines[0], *lines[1::8]]) + "\n")
    pods = OPENB / "openb_pod_list_default.csv"
    outputs = []
    for out in (tmp_path / "a", tmp_path / "b"):
        result = CliRunner().invoke(build_app(), [
            "experiment", "fgd", "--nodes", str(nodes), "--pods", str(pods), "--policy", "fgd",
            "--policy", "quotient", "--seeds", "42-43", "--out", str(out), "--jobs", "1",
        ])
        assert result.exit_code == 0, result.stderr
        assert (out / "alloc.png").stat().st_size > 0
        outputs.append((out / "results.csv").read_text())
    assert outputs[0] == outputs[1]
    header, first = outputs[0].splitlines()[:2]
    assert header == "policy,seed,arrived_pct,alloc_pct,frag_rate_pct,frag_pct"
    assert first.startswith("fgd,42,0,")
    result = CliRunner().invoke(build_app(), [
        "experiment", "fgd-compare", str(tmp_path / "a" / "results.csv"), "--expected",
        str(EXPECTED), "--workload", "openb_pod_list_default", "--tolerance", "100",
    ])
    assert result.exit_code == 0, result.stderr
    assert "quotient (vs FGD)" in result.stdout and "06-FGD" not in result.stderr


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), [
        "experiment", "fgd", "--nodes", str(tmp_path / "none.csv"), "--pods",
        str(tmp_path / "p.csv"), "--out", str(tmp_path / "o"),
    ])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 'none.csv'}: no such file"
