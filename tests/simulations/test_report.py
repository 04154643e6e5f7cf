"""What a person sees: the progress bar for long runs, and the tables."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from simulations.loader import load_scenario
from simulations.report import is_long, pending_table, progress_bar
from simulations.runner import simulate
from tests.simulations.builders import SCENARIOS


@pytest.mark.parametrize(
    ("until", "cycle_seconds", "workloads", "long"),
    [
        pytest.param(7200, 10, 21, False, id="the Run:ai validation is short"),
        pytest.param(30 * 86400, 10, 50, True, id="a month of periodic cycles is long"),
        pytest.param(3600, 10, 5000, True, id="thousands of workloads are long"),
    ],
)
def test_only_long_runs_show_a_progress_bar(
    until: int, cycle_seconds: int, workloads: int, long: bool
) -> None:
    assert is_long(until, cycle_seconds, workloads) is long


def test_the_bar_follows_simulated_time_on_a_terminal() -> None:
    seen: list[tuple[int, int]] = []
    sim = load_scenario(SCENARIOS / "quickstart.yaml")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with progress_bar(console, enabled=True, until=sim.until) as advance:
        assert advance is not None

        def both(now: int, until: int) -> None:
            seen.append((now, until))
            advance(now, until)

        simulate(sim, both)
    times = [t for t, _ in seen]
    assert times == sorted(times) and times[-1] <= sim.until
    assert "simulating" in buffer.getvalue()


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    with progress_bar(console, enabled=True, until=100) as advance:
        assert advance is None


def test_the_pending_table_lists_each_waiting_workload_with_its_reason() -> None:
    r = simulate(load_scenario(SCENARIOS / "runai-validation.yaml"))
    table = pending_table(r)
    assert table is not None
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "OverFairShare" in text and "team-b" in text and "team-c" in text
