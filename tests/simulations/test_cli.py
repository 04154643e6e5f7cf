"""`quotient simulate`: tables, --json, --report, exit statuses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from quotient.cli import build_app
from tests.simulations.builders import Doc, scenario, wl, write


def story() -> Doc:
    """A gang in a department that finishes, and a borrower; every check holds."""
    doc = scenario(
        wl("gang", gpus=2, pods=2, duration=50),
        wl("b-1", "team-b", gpu_fraction=0.5, type="interactive"),
        until=100,
        expect=[{"at": 0, "workloads": {"gang": {"state": "running"}}}],
    )
    doc["departments"] = [{"name": "research", "deserved_gpus": 6}]
    doc["projects"][0]["department"] = "research"
    return doc


def simulate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_simulate_is_a_command_of_quotient() -> None:
    result = CliRunner().invoke(build_app(), ["--help"])
    assert "simulate" in result.stdout


def test_simulate_prints_a_table_per_project_and_exits_0(tmp_path: Path) -> None:
    code, out, err = simulate(str(write(tmp_path, story())))
    assert code == 0, err
    for heading in ("project", "deserved", "fair share", "allocated", "running", "pending"):
        assert heading in out
    assert "team-a" in out and "team-b" in out
    assert "expectations: 1/1 held" in out


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
    code, _, err = simulate(str(write(tmp_path, story())), "--json", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["final"]["projects"]["team-a"] == {
        "deserved_gpus": 4.0, "fair_share_gpus": 0.0, "demand_gpus": 0.0,
        "allocated_gpus": 0.0, "running": 0, "pending": 0,
    }  # fmt: skip
    gang = doc["final"]["workloads"]["gang"]
    assert set(gang) >= {"state", "node", "reason", "gpu_memory_limit_mib"}
    assert (gang["state"], gang["started_at"], gang["ended_at"]) == ("finished", 0, 50)
    assert gang["reason"] is None
    b = doc["final"]["workloads"]["b-1"]
    assert (b["state"], b["reason"], b["gpu_memory_limit_mib"]) == ("running", None, 16384)
    assert set(doc["totals"]) >= {"evictions", "gpu_utilization"}
    assert doc["totals"]["gpu_utilization"] == 0.15625  # (4 GPUs x 50 s + 0.5 x 100 s) / (16 x 100)
    assert doc["timeline"][0]["t"] == 0 and "allocated_gpus" in doc["timeline"][0]
    assert doc["expectations"]["passed"] is True


def test_report_writes_the_allocation_chart_and_csv(tmp_path: Path) -> None:
    code, _, err = simulate(str(write(tmp_path, story())), "--report", str(tmp_path / "report"))
    assert code == 0, err
    png = (tmp_path / "report" / "allocation.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    with (tmp_path / "report" / "allocation.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["t_seconds", "team-a", "team-b", "allocated_gpus", "capacity_gpus"]
    assert [(r["t_seconds"], r["team-a"], r["team-b"], r["allocated_gpus"]) for r in rows] == [
        ("0", "4", "0.5", "4.5"), ("50", "0", "0.5", "0.5"), ("100", "0", "0.5", "0.5"),
    ]  # fmt: skip
    assert {r["capacity_gpus"] for r in rows} == {"16"}


def test_a_failed_expectation_exits_1_and_says_which(tmp_path: Path) -> None:
    doc = scenario(wl("a-1", gpus=2), expect=[{"at": 0, "allocated_gpus": 5}])
    code, _, err = simulate(str(write(tmp_path, doc)))
    assert code == 1
    assert "1 expectation check(s) failed" in err
    assert "expect[0] (at 0): allocated_gpus: expected 5, got 2 [FAILED]" in err
