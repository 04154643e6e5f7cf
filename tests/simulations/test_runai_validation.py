"""Run:ai's published validation on two DGX-1 nodes, reproduced (issue 2, acceptance).

Four projects on 16 V100 GPUs: team-a deserves 4, team-b 2, team-c 2, team-d 8. The shipped
scenario runs parts 1-3 on one timeline (t=0, 600, 1200; until 7200) and fractions.yaml
runs part 4. Each outcome is asserted here from the JSON result document, the state at a
part's time being the result of the same file cut at that time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotient.cli import build_app
from tests.simulations.builders import SCENARIOS, run_until

VALIDATION = "runai-validation.yaml"
PART_1 = ["a-1", "a-2", "a-jupyter", "b-1", "b-2", "b-3", "b-4",
          "c-1", "c-2", "c-3", "c-4", "c-5", "d-1"]  # fmt: skip
INTERACTIVE = ["a-jupyter", "b-1", "b-2", "c-1", "c-2", "c-3"]
Doc = dict[str, Any]


def allocated(doc: Doc) -> dict[str, float]:
    return {name: p["allocated_gpus"] for name, p in doc["final"]["projects"].items()}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Doc:
    """The whole shipped scenario through `quotient simulate --json`."""
    out = tmp_path_factory.mktemp("runai") / "result.json"
    result = CliRunner().invoke(
        build_app(), ["simulate", str(SCENARIOS / VALIDATION), "--json", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    loaded: Doc = json.loads(out.read_text())
    return loaded


def test_part_1_all_13_run_and_16_of_16_gpus_are_allocated_4_4_4_4() -> None:
    doc = run_until(VALIDATION, 0)
    assert all(doc["final"]["workloads"][w]["state"] == "running" for w in PART_1)
    assert doc["totals"]["allocated_gpus"] == doc["totals"]["capacity_gpus"] == 16
    assert allocated(doc) == {"team-a": 4, "team-b": 4, "team-c": 4, "team-d": 4}
    # b and c borrow 2 each beyond their deserved 2; d leaves 4 of its 8 idle
    deserved = {n: p["deserved_gpus"] for n, p in doc["final"]["projects"].items()}
    assert deserved == {"team-a": 4, "team-b": 2, "team-c": 2, "team-d": 8}


def test_part_2_one_of_b_and_one_of_c_go_back_to_pending_and_d_gets_its_8() -> None:
    doc = run_until(VALIDATION, 600)
    evicted = doc["evictions"]
    assert sorted(e["project"] for e in evicted) == ["team-b", "team-c"]
    assert all(e["type"] == "train" and e["t"] == 600 for e in evicted)
    workloads = doc["final"]["workloads"]
    assert all(workloads[e["workload"]]["state"] == "pending" for e in evicted)
    assert all(workloads[w]["state"] == "running" for w in INTERACTIVE)
    assert all(workloads[w]["evictions"] == 0 for w in ["a-1", "a-2", "a-jupyter"])
    assert allocated(doc) == {"team-a": 4, "team-b": 2, "team-c": 2, "team-d": 8}
    assert doc["totals"]["allocated_gpus"] == 16


def test_part_3_the_8_surplus_gpus_split_4_2_2_by_quota(full_run: Doc) -> None:
    projects = full_run["final"]["projects"]
    assert allocated(full_run) == {"team-a": 8, "team-b": 4, "team-c": 4, "team-d": 0}
    pending = {n: p["pending"] for n, p in projects.items()}
    assert pending == {"team-a": 0, "team-b": 1, "team-c": 1, "team-d": 0}
    assert projects["team-d"]["running"] == 0
    surplus = {
        n: p["allocated_gpus"] - p["deserved_gpus"] for n, p in projects.items() if n != "team-d"
    }
    assert surplus == {"team-a": 4, "team-b": 2, "team-c": 2}


def test_part_3_settles_at_1200_with_no_evictions_for_the_rest_of_the_run(full_run: Doc) -> None:
    assert [e for e in full_run["evictions"] if e["t"] >= 1200] == []
    after = [p for p in full_run["timeline"] if p["t"] >= 1200]
    assert [p["t"] for p in after] == [1200]
    assert after[0]["allocated_gpus"] == {"team-a": 8, "team-b": 4, "team-c": 4, "team-d": 0}
    assert full_run["totals"]["evictions"] == 2


def test_the_shipped_scenario_states_the_same_outcomes_and_they_hold(full_run: Doc) -> None:
    checks = full_run["expectations"]
    assert checks["passed"] and checks["failed"] == 0 and checks["total"] > 40


def test_part_4_a_half_gpu_shares_its_v100_with_at_most_another_half(
    tmp_path: Path,
) -> None:
    out = tmp_path / "fractions.json"
    result = CliRunner().invoke(
        build_app(), ["simulate", str(SCENARIOS / "fractions.yaml"), "--json", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    jupyter = doc["final"]["workloads"]["d-jupyter"]
    assert (jupyter["project"], jupyter["type"], jupyter["state"]) == (
        "team-d", "interactive", "running",
    )  # fmt: skip
    assert jupyter["request"]["gpu_fraction"] == 0.5
    assert jupyter["gpu_memory_limit_mib"] == 16384
    (pod,) = jupyter["pods"]
    (gpu,) = pod["gpu_indices"]
    sharing = [
        p["gpus"]
        for name, w in doc["final"]["workloads"].items()
        if name != "d-jupyter"
        for p in w["pods"]
        if p["node"] == pod["node"] and gpu in p["gpu_indices"]
    ]
    assert sum(sharing) <= 0.5
    assert doc["final"]["nodes"][pod["node"]]["gpus"][gpu] <= 1.0
    assert all(load <= 1.0 for n in doc["final"]["nodes"].values() for load in n["gpus"])
