"""How scenario problems are reported (issue 10, item 14): every problem in one pass, in
the project's own words, advice on a valid scenario as warnings, and a non-UTF-8 file
named by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quotient.cli import build_app
from simulations.loader import load_scenario
from simulations.scenario import Problem, ScenarioError
from tests.simulations.builders import Doc, scenario, wl, write


def problems(tmp_path: Path, doc: Doc) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, doc))
    return [(p.entry, p.reason) for p in caught.value.problems]


def test_bad_values_and_bad_relations_are_reported_in_one_pass(tmp_path: Path) -> None:
    doc = scenario(
        wl("a-1", gpus=-1),  # a bad value
        wl("a-2", "team-z"),  # a project that does not exist: a relation
        wl("a-3", gpu_fraction=2),  # a bad value
        wl("a-2"),  # a duplicate name: a relation
    )
    found = problems(tmp_path, doc)
    entries = [entry for entry, _ in found]
    assert entries[:2] == ["workloads[0] (a-1).gpus", "workloads[2] (a-3).gpu_fraction"]
    assert any(e.startswith("workloads[1] (a-2)") and "team-z" in r for e, r in found)
    assert any(e.startswith("workloads[3] (a-2)") for e, _ in found), found


def test_a_relation_to_an_entry_with_a_bad_value_is_not_reported_twice(tmp_path: Path) -> None:
    doc = scenario(wl("a-1", "team-c"))
    doc["projects"].append({"name": "team-c", "deserved_gpus": "lots"})
    found = problems(tmp_path, doc)
    assert [entry for entry, _ in found] == ["projects[2] (team-c).deserved_gpus"]


@pytest.mark.parametrize(
    ("mutate", "entry", "reason"),
    [
        pytest.param(lambda d: d["cluster"].update(nodes=[]), "cluster.nodes",
                     "must have at least 1 entry", id="an empty list, in our words"),
        pytest.param(lambda d: d.update(until=-5), "until", "must be at least 0, got -5",
                     id="a bound, in our words"),
        pytest.param(lambda d: d.update(until="soon"), "until",
                     "must be a whole number, got 'soon'", id="a type, in our words"),
        pytest.param(lambda d: d["policy"].update(reclaim="maybe"), "policy.reclaim",
                     "must be true or false, got 'maybe'", id="a boolean, in our words"),
    ],
)
def test_pydantic_wording_is_replaced_by_ours(
    tmp_path: Path, mutate: object, entry: str, reason: str
) -> None:
    doc = scenario(policy={})
    mutate(doc)  # type: ignore[operator]
    assert (entry, reason) in problems(tmp_path, doc)


def test_a_non_utf8_file_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\ndescription: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == (
        Problem("line 2, column 17", "is not UTF-8 (byte 0xe9); save the file as UTF-8"),
    )


def warnings_of(tmp_path: Path, doc: Doc) -> list[str]:
    result = CliRunner().invoke(build_app(), ["simulate", str(write(tmp_path, doc))])
    assert result.exit_code == 0, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def test_children_deserving_more_than_their_department_is_a_warning(tmp_path: Path) -> None:
    doc = scenario(departments=[{"name": "research", "deserved_gpus": 3}])
    for p in doc["projects"]:
        p["department"] = "research"  # 4 + 2 = 6 > 3
    [line] = warnings_of(tmp_path, doc)
    assert line.endswith(
        "departments[0] (research).deserved_gpus: its children deserve 6 GPUs together, "
        "more than its 3; accepted, and the division will scale their guarantees down"
    )


def test_a_gpu_node_without_memory_is_named_when_memory_is_asked_for(tmp_path: Path) -> None:
    doc = scenario(wl("a-1", gpu_memory_mib=1000))
    doc["cluster"]["nodes"].append({"name": "old", "gpus": 4})
    [line] = warnings_of(tmp_path, doc)
    assert "cluster.nodes[1] (old).gpu_memory_mib: not given, so its GPUs have 0 MiB" in line
    assert "(a-1)" in line


def test_a_plain_scenario_has_no_warnings(tmp_path: Path) -> None:
    assert warnings_of(tmp_path, scenario()) == []
