"""`quotient simulate --report DIR` writes report.html: it opens from disk and draws.

The page is opened as a file in Debian's chromium (no server anywhere): its charts must
render with no console error and no request at all beyond the file itself, and its numbers
must be the run's final numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulations.loader import load_scenario
from simulations.report_html import report_data, write_html
from simulations.result import SimulationResult
from simulations.runner import simulate
from tests.dash.conftest import Recorded, new_page, screenshot

SCENARIOS = Path(__file__).resolve().parents[2] / "simulations" / "scenarios"


@pytest.fixture(scope="module")
def validation() -> SimulationResult:
    return simulate(load_scenario(SCENARIOS / "runai-validation.yaml"))


@pytest.fixture
def report_page(
    request: pytest.FixtureRequest, context: Any, validation: SimulationResult, tmp_path: Path
) -> Iterator[tuple[Recorded, SimulationResult]]:
    write_html(validation, tmp_path / "report.html")  # what write_report adds
    recorded = new_page(context, 1280)
    recorded.page.goto((tmp_path / "report.html").as_uri())
    yield recorded, validation
    screenshot(request, recorded)
    recorded.page.close()


def test_the_report_opens_from_disk_and_its_chart_renders_without_errors(
    report_page: tuple[Recorded, SimulationResult],
) -> None:
    page, result = report_page
    page.page.wait_for_selector("#timeline .main-svg .scatterlayer .trace", timeout=15_000)
    traces = page.page.locator("#timeline .scatterlayer .trace").count()
    projects = len(result.final.projects)
    # allocated, fair share and deserved per project, plus the evictions' markers
    assert traces == 3 * projects + (1 if result.evictions else 0)
    assert page.console_errors == []
    assert [u for u in page.requests if not u.startswith("file:")] == []
    rows = page.page.locator("tr[data-project]")
    assert rows.count() == projects
    for name, p in result.final.projects.items():
        shown = page.page.inner_text(f'tr[data-project="{name}"] td[data-field="allocated_gpus"]')
        assert float(shown) * 1000 == p.allocated_milli


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("time axis starts at the run's start", ("origin", 0)),
        ("time axis ends at until", ("end", 7200)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_report_document_spans_the_run(
    validation: SimulationResult, field: str, expected: tuple[str, int]
) -> None:
    history = report_data(validation)["history"]
    key, value = expected
    assert history[key] == value, field


def test_every_eviction_of_the_run_is_marked(validation: SimulationResult) -> None:
    marked = report_data(validation)["history"]["evictions"]
    assert [(e["at"], e["workload"]) for e in marked] == [
        (e.at, e.workload) for e in validation.evictions
    ]
    assert marked, "the validation scenario reclaims"
