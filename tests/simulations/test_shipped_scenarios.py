"""Every scenario shipped in simulations/scenarios/ shows what its `expect:` entries say."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.loader import load_scenario
from simulations.runner import simulate
from tests.simulations.builders import SCENARIOS


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_a_shipped_scenario_holds_its_expectations(path: Path) -> None:
    result = simulate(load_scenario(path))
    assert result.checks
    assert result.passed, "\n".join(c.message for c in result.failed_checks)
    assert not result.refused, "the cluster refused a binding of the core"
