"""`quotient simulate`: tables, --json, --report, exit statuses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from quotient.cli import build_app
from tests.simulations.builders import SCENARIOS, scenario, wl, write

QUICKSTART = SCENARIOS / "quickstart.yaml"


def simulate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_simulate_is_a_command_of_quotient() -> None:
    result = CliRunner().invoke(build_app(), ["--help"])
    assert "simulate" in result.stdout


def test_simulate_prints_a_table_per_project_and_exits_0(tmp_path: Path) -> None:
    code, out, err = simulate(str(QUICKSTART))
    assert code == 0, err
    for heading in ("project", "deserved", "fair share", "allocated", "running", "pending"):
        assert heading in out
    for project in ("vision", "nlp", "platform"):
        assert project in out
    assert "expectations: " in out


def test_pending_workloads_are_listed_with_their_reason(tmp_path: Path) -> None:
    doc = scenario(wl("a-1", gpus=2), wl("a-2", gpus=2))
    doc["projects"][0]["limit_gpus"] = 4
    doc["projects"][0]["deserved_gpus"] = 2
    doc["workloads"].append(wl("a-3", gpus=2))
    code, out, _ = simulate(str(write(tmp_path, doc)))
    assert code == 0
    assert "pending workloads" in out and "a-3" in out and "OverLimit" in out


def test_json_writes_the_result_document(tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.json"
    code, _, err = simulate(str(QUICKSTART), "--json", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert set(doc["final"]["projects"]["vision"]) >= {
        "deserved_gpus", "fair_share_gpus", "allocated_gpus", "running", "pending",
    }  # fmt: skip
    gang = doc["final"]["workloads"]["vision-pretrain"]
    assert set(gang) >= {"state", "node", "reason", "gpu_memory_limit_mib"}
    assert gang["state"] == "finished" and gang["reason"] is None
    assert set(doc["totals"]) >= {"evictions", "gpu_utilization"}
    assert 0 < doc["totals"]["gpu_utilization"] <= 1
    assert doc["timeline"][0]["t"] == 0 and "allocated_gpus" in doc["timeline"][0]
    assert doc["expectations"]["passed"] is True


def test_report_writes_the_allocation_chart_and_csv(tmp_path: Path) -> None:
    code, _, err = simulate(str(QUICKSTART), "--report", str(tmp_path / "report"))
    assert code == 0, err
    png = (tmp_path / "report" / "allocation.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    with (tmp_path / "report" / "allocation.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "t_seconds", "nlp", "platform", "vision", "allocated_gpus", "capacity_gpus",
    ]  # fmt: skip
    assert rows[0]["t_seconds"] == "0" and rows[-1]["t_seconds"] == "3600"
    assert {r["capacity_gpus"] for r in rows} == {"8"}
    for r in rows:
        parts = sum(float(r[p]) for p in ("nlp", "platform", "vision"))
        assert parts == float(r["allocated_gpus"]) <= 8


def test_a_failed_expectation_exits_1_and_says_which(tmp_path: Path) -> None:
    doc = scenario(wl("a-1", gpus=2), expect=[{"at": 0, "allocated_gpus": 5}])
    code, _, err = simulate(str(write(tmp_path, doc)))
    assert code == 1
    assert "1 expectation check(s) failed" in err
    assert "expect[0] (at 0): allocated_gpus: expected 5, got 2 [FAILED]" in err
