"""The live dashboard in Debian's chromium, against the demo's API: what a person sees.

Every number on the page must be the one `GET /api/v1/status` gives; a quota change made
through the API must show within one refresh; a waiting workload shows its reason; a page
without a token shows the prompt and nothing else; no request leaves 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dash.conftest import LiveDemo, Recorded, screenshot

PROJECT_FIELDS = ("deserved_gpus", "fair_share_gpus", "allocated_gpus", "running", "pending")
TIMEOUT_MS = 15_000


def shown(value: Any) -> str:
    """A JSON number as the page writes it (JavaScript's String(n) for these values)."""
    return str(value)


def wait_for_refreshes(page: Recorded, count: int) -> None:
    # Polled from here: the page's CSP forbids the eval that wait_for_function needs.
    for _ in range(TIMEOUT_MS // 100):
        if page.page.evaluate("Number(document.body.dataset.refreshes || 0)") >= count:
            return
        page.page.wait_for_timeout(100)
    raise AssertionError(f"the page did not refresh {count} times")


def cell(page: Recorded, project: str, name: str) -> str:
    text: str = page.page.inner_text(f'tr[data-project="{project}"] td[data-field="{name}"]')
    return text.strip()


def test_every_project_shows_the_numbers_of_the_status_endpoint(
    dashboard: Recorded, demo: LiveDemo
) -> None:
    page = dashboard
    page.page.wait_for_selector("#timeline .main-svg .scatterlayer .trace", timeout=TIMEOUT_MS)
    status = demo.status()
    rows = page.page.locator("tr[data-project]")
    assert rows.count() == len(status["projects"]) == 5
    for project in status["projects"]:
        for name in PROJECT_FIELDS:
            assert cell(page, project["name"], name) == shown(project[name]), (project, name)
    cluster = status["cluster"]
    for name in ("total_gpus", "allocated_gpus", "idle_gpus"):
        card = page.page.inner_text(f'#cluster [data-field="{name}"] dd')
        assert card.split()[0] == shown(cluster[name]), name
    assert page.page.locator("li.node").count() == 5
    assert page.page.locator("li.gpu.shared").count() >= 1, "the demo shares some GPUs"
    assert page.left_loopback() == []
    assert any("/api/v1/status" in u for u in page.requests)
    assert page.console_errors == []


def test_a_quota_change_through_the_api_shows_within_one_refresh(
    dashboard: Recorded, demo: LiveDemo
) -> None:
    page = dashboard
    current = next(p for p in demo.status()["projects"] if p["name"] == "search")
    new = 3 if current["deserved_gpus"] != 3 else 5
    refreshes = int(page.page.evaluate("Number(document.body.dataset.refreshes || 0)"))
    response = demo.admin.patch("/api/v1/projects/search", json={"deserved_gpus": new})
    assert response.status_code == 200, response.text
    # A refresh in flight at the PATCH may have read before it; the next one must show it.
    wait_for_refreshes(page, refreshes + 2)
    assert cell(page, "search", "deserved_gpus") == shown(new)
    assert page.left_loopback() == []


def test_a_pending_workload_shows_its_reason_and_the_filter_keeps_its_project(
    dashboard: Recorded, demo: LiveDemo
) -> None:
    page = dashboard
    waiting = [
        (p["name"], r) for p in demo.status()["projects"] for r in p["pending_reasons"]
    ]
    assert waiting, "the settled demo has pending workloads"
    project, reason = waiting[0]
    page.page.select_option("#project-filter", project)
    row = page.page.locator(f'tr[data-workload="{reason["workload"]}"]')
    row.wait_for(timeout=TIMEOUT_MS)
    text = row.inner_text()
    assert reason["code"] in text and reason["message"] in text
    projects = page.page.locator("table.workloads tbody tr td:nth-child(2)").all_inner_texts()
    assert projects and {t.strip() for t in projects} == {project}
    assert page.left_loopback() == []
    page.page.select_option("#project-filter", "")


def test_without_a_token_the_page_asks_for_one_and_shows_nothing_else(
    request: pytest.FixtureRequest, page: Recorded, demo: LiveDemo
) -> None:
    page.page.goto(demo.url + "/")
    page.page.wait_for_selector("#token-form", timeout=TIMEOUT_MS)
    screenshot(request, page, "-prompt")
    assert page.page.locator("#projects, #cluster, #workloads").count() == 0
    assert not any("/api/v1/" in u for u in page.requests), "nothing read without a token"
    page.page.fill("#token", "not-a-token")
    page.page.press("#token", "Enter")
    page.page.wait_for_selector("#token-form .error", timeout=TIMEOUT_MS)
    assert page.page.locator("#projects").count() == 0
    page.page.fill("#token", demo.demo.tokens.viewer)
    page.page.press("#token", "Enter")  # keyboard only
    page.page.wait_for_selector("tr[data-project]", timeout=TIMEOUT_MS)
    assert page.left_loopback() == []


@pytest.mark.parametrize("key_presses", [18], ids=["the filter is reachable by keyboard"])
def test_phone_width_reads_without_sideways_scrolling(
    dashboard: Recorded, key_presses: int
) -> None:
    page = dashboard.page
    page.set_viewport_size({"width": 390, "height": 800})
    page.wait_for_timeout(300)  # let the chart follow the new width
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    page.click("#h-cluster")  # start keyboard navigation from the top of the page
    focused = []
    for _ in range(key_presses):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id"))
        if "project-filter" in focused:
            break
    assert "project-filter" in focused, focused
    assert dashboard.left_loopback() == []
