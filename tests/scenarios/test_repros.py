"""The known-bug reproductions of issue 7, copied from ../shared/repros/, as scenario tests.

Each file states in its header what was wrong and in its `expect:` entries the right
outcome; the simulator runs it through the scheduler's own loop and every check must hold,
with no binding refused by the in-memory cluster (the core's double-check).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.loader import load_scenario
from simulations.runner import simulate

REPROS = sorted((Path(__file__).parent / "repros").glob("*.yaml"))


@pytest.mark.parametrize("path", REPROS, ids=lambda p: p.stem)
def test_a_known_bug_reproduction_now_shows_the_right_outcome(path: Path) -> None:
    result = simulate(load_scenario(path))
    assert result.checks, "a repro states its expected outcome"
    assert result.passed, "\n".join(c.message for c in result.failed_checks)
    assert not result.refused, "the cluster refused a binding of the core"
