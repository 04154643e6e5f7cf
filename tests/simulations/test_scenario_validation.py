"""A malformed scenario exits with status 2 and names the file, the entry and the reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quotient.cli import build_app
from simulations.loader import load_scenario
from simulations.scenario import ScenarioError
from tests.simulations.builders import Doc, scenario, wl, write

Mutate = Callable[[Doc], object]


def _workload(i: int, **fields: object) -> Mutate:
    return lambda d: d["workloads"][i].update(fields)


def _add(section: str, entry: object) -> Mutate:
    return lambda d: d.setdefault(section, []).append(entry)


def _drop(i: int, key: str) -> Mutate:
    return lambda d: d["workloads"][i].pop(key)


MALFORMED = [
    pytest.param(
        _workload(0, gpu_fractoin=0.5),
        "workloads[0] (a-1).gpu_fractoin", "unknown field; did you mean 'gpu_fraction'?",
        id="an unknown field is named, with the field it was probably meant to be",
    ),
    pytest.param(
        lambda d: d.update(nodes=[]), "nodes", "unknown field",
        id="an unknown top-level section is an unknown field",
    ),
    pytest.param(
        _workload(0, gpus=-2), "workloads[0] (a-1).gpus", "must not be negative, got -2",
        id="negative GPUs are refused",
    ),
    pytest.param(
        lambda d: d["projects"][0].update(deserved_gpus=-1),
        "projects[0] (team-a).deserved_gpus", "must not be negative",
        id="a negative quota is refused",
    ),
    pytest.param(
        _add("workloads", wl("f", gpu_fraction=1.5)),
        "workloads[1] (f).gpu_fraction", "must be below 1",
        id="a fraction above 1 is refused",
    ),
    pytest.param(
        _add("workloads", wl("f", gpu_fraction=1)),
        "workloads[1] (f).gpu_fraction", "a whole GPU is not a fraction; use gpus: 1",
        id="a fraction of exactly 1 is told to ask for gpus: 1",
    ),
    pytest.param(
        _add("workloads", wl("f", gpu_fraction=0)),
        "workloads[1] (f).gpu_fraction", "must be above 0",
        id="a zero fraction is refused",
    ),
    pytest.param(
        _add("workloads", wl("f", gpu_fraction=0.1234)),
        "workloads[1] (f).gpu_fraction", "at most 3 decimals are allowed, got 0.1234",
        id="a fraction with more than 3 decimals is refused, never rounded",
    ),
    pytest.param(
        lambda d: d["projects"][1].update(deserved_gpus="2.0005"),
        "projects[1] (team-b).deserved_gpus", "at most 3 decimals",
        id="a quota with more than 3 decimals is refused",
    ),
    pytest.param(
        _workload(0, gpus=0.5), "workloads[0] (a-1).gpus", "use gpu_fraction",
        id="part of a GPU asked as gpus is pointed at gpu_fraction",
    ),
    pytest.param(
        _workload(0, gpus="many"), "workloads[0] (a-1).gpus", "must be a number, got 'many'",
        id="a GPU count that is not a number is refused",
    ),
    pytest.param(
        _workload(0, project="team-z"),
        "workloads[0] (a-1).project", "project 'team-z' does not exist (projects: team-a, team-b)",
        id="a workload of an unknown project is refused",
    ),
    pytest.param(
        _workload(0, gpus=9), "workloads[0] (a-1)", "fits no node (largest: dgx1: 8 GPUs",
        id="a pod larger than the largest node can never fit",
    ),
    pytest.param(
        _workload(0, gpus=8, pods=3), "workloads[0] (a-1)",
        "the gang needs 3 pods of 8 GPU(s) on one node at once; the whole empty cluster holds "
        "at most 2",
        id="a gang that the whole cluster cannot hold at once can never fit",
    ),
    pytest.param(
        _workload(0, gpus=1, pods=4, cpu=40), "workloads[0] (a-1)", "holds at most 2",
        id="a gang whose CPU requests cannot fit is refused",
    ),
    pytest.param(
        _add("workloads", wl("m", gpu_memory_mib=40000)),
        "workloads[1] (m)", "40000 MiB of one GPU's memory; it fits no node",
        id="a GPU memory request larger than any GPU can never fit",
    ),
    pytest.param(
        _add("workloads", wl("a-1")), "workloads[1] (a-1).name", "already defined by workloads[0]",
        id="workload names are unique",
    ),
    pytest.param(
        _add("projects", {"name": "team-a"}), "projects[2] (team-a).name", "already defined",
        id="project names are unique",
    ),
    pytest.param(
        lambda d: d["cluster"]["nodes"].append({"name": "dgx1-2", "gpus": 8}),
        "cluster.nodes[1] (dgx1-2).name", "node 'dgx1-2' is already defined by cluster.nodes[0]",
        id="node names are unique after count expands them",
    ),
    pytest.param(
        _drop(0, "gpus"), "workloads[0] (a-1)", "give exactly one of gpus, gpu_fraction",
        id="a workload must ask for some GPU",
    ),
    pytest.param(
        _workload(0, gpu_fraction=0.5), "workloads[0] (a-1)", "(got gpus and gpu_fraction)",
        id="a workload may not ask for whole GPUs and a fraction at once",
    ),
    pytest.param(
        _workload(0, pods=2, min_pods=3), "workloads[0] (a-1).min_pods", "more than pods 2",
        id="a gang minimum above its size is refused",
    ),
    pytest.param(
        _workload(0, submit_at=50, delete_at=50), "workloads[0] (a-1).delete_at",
        "must be after submit_at 50", id="a workload cannot be deleted before it is submitted",
    ),
    pytest.param(
        _workload(0, submit_at=101), "workloads[0] (a-1).submit_at", "after until 100",
        id="a workload submitted after the end would never run",
    ),
    pytest.param(
        _workload(0, type="training"), "workloads[0] (a-1).type",
        "must be one of 'train', 'interactive' or 'inference', got 'training'",
        id="an unknown type is refused",
    ),
    pytest.param(
        lambda d: d["projects"][0].update(department="research"),
        "projects[0] (team-a).department", "department 'research' does not exist",
        id="a project in an unknown department is refused",
    ),
    pytest.param(
        lambda d: d.update(
            departments=[{"name": "x", "parent": "y"}, {"name": "y", "parent": "x"}]
        ),
        "departments[0] (x)", "department cycle", id="departments may not nest in a cycle",
    ),
    pytest.param(
        lambda d: d["projects"][0].update(limit_gpus=2), "projects[0] (team-a).limit_gpus",
        "limit_gpus 2 is below deserved_gpus 4", id="a limit below the deserved quota is refused",
    ),
    pytest.param(
        lambda d: d["projects"][0].update(node_pools=["gold"]), "projects[0] (team-a).node_pools",
        "node pool 'gold' has no nodes", id="a project's node pool must exist",
    ),
    pytest.param(
        lambda d: d.pop("until"), "until", "is required", id="until is required",
    ),
    pytest.param(
        _add("expect", {"at": 0, "projects": {"team-q": {"allocated_gpus": 1}}}),
        "expect[0]", "project 'team-q' does not exist", id="an expectation names real projects",
    ),
    pytest.param(
        _add("expect", {"at": 0, "evictions": 0}), "expect[0]",
        "eviction checks need a window", id="eviction counts need a window, not an instant",
    ),
    pytest.param(
        _add("expect", {"at": 200, "running": 1}), "expect[0].at", "after until 100",
        id="an expectation after the end would never be checked",
    ),
    pytest.param(
        _add("expect", {"between": [5, 1], "evictions": 0}), "expect[0].between",
        "ends before it starts", id="a window must not end before it starts",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "entry", "reason"), MALFORMED)
def test_malformed_scenario_is_refused_naming_file_entry_and_reason(
    tmp_path: Path, mutate: Mutate, entry: str, reason: str
) -> None:
    doc = scenario()
    mutate(doc)
    path = write(tmp_path, doc)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(f"{path}: {entry}: ") and reason in line for line in lines), lines


@pytest.mark.parametrize(("mutate", "entry", "reason"), MALFORMED[:8])
def test_simulate_exits_2_and_runs_nothing_for_a_malformed_scenario(
    tmp_path: Path, mutate: Mutate, entry: str, reason: str
) -> None:
    doc = scenario()
    mutate(doc)
    path = write(tmp_path, doc)
    out = tmp_path / "result.json"
    result = CliRunner().invoke(build_app(), ["simulate", str(path), "--json", str(out)])
    assert result.exit_code == 2
    assert f"{path}: {entry}: " in result.stderr
    assert reason in result.stderr
    assert not out.exists()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    doc = scenario(wl("a-1", gpus=-1), wl("a-2", gpu_fraction=2), wl("a-3", colour="red"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, doc))
    entries = [p.entry for p in caught.value.problems]
    assert entries == [
        "workloads[0] (a-1).gpus",
        "workloads[1] (a-2).gpu_fraction",
        "workloads[2] (a-3).colour",
    ]


@pytest.mark.parametrize(
    ("text", "entry", "reason"),
    [
        pytest.param("name: x\nname: y\n", "line 2, column 1", "duplicate key 'name'",
                     id="a key given twice is refused, not silently overwritten"),
        pytest.param("name: [x\n", "line 2, column 1", "invalid YAML",
                     id="broken YAML names the line"),
        pytest.param("- just\n- a list\n", "scenario", "must be a mapping",
                     id="a document that is not a mapping is refused"),
    ],
)  # fmt: skip
def test_unreadable_yaml_is_refused(tmp_path: Path, text: str, entry: str, reason: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: {entry}: ")
    assert reason in str(caught.value)


def test_a_missing_file_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = CliRunner().invoke(build_app(), ["simulate", str(path)])
    assert result.exit_code == 2
    assert f"{path}: file: cannot read it" in result.stderr
