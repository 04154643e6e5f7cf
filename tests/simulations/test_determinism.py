"""Same file (and seed) -> bit-identical result document, CSV and chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.loader import load_scenario
from simulations.report import write_report
from simulations.result import dumps
from simulations.runner import simulate
from tests.simulations.builders import SCENARIOS


@pytest.mark.parametrize("name", ["runai-validation.yaml", "quickstart.yaml", "fractions.yaml"])
def test_two_runs_of_the_same_file_give_identical_json(name: str) -> None:
    first = dumps(simulate(load_scenario(SCENARIOS / name)))
    second = dumps(simulate(load_scenario(SCENARIOS / name)))
    assert first == second


def test_two_reports_of_the_same_run_are_byte_identical(tmp_path: Path) -> None:
    for run in ("one", "two"):
        write_report(simulate(load_scenario(SCENARIOS / "quickstart.yaml")), tmp_path / run)
    for name in ("allocation.png", "allocation.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
