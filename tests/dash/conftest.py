"""Fixtures of the dashboard suite: a settled demo behind a real API, and Debian's chromium.

`demo` runs `quotient.demo.Demo` on a virtual clock stepped through an hour and a half of
scheduler time (so the state is settled and the page and the API can be compared), then
keeps its API serving. `browser` is Debian's /usr/bin/chromium driven by Playwright, never
a downloaded browser; without it the browser tests skip, except under CI, where they fail.
`page` records every request, so each test can check none left 127.0.0.1, and saves a
screenshot under test-artifacts/ at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from quotient.demo import Demo, DemoOptions
from simulations.engine import VirtualClock

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SETTLE_SECONDS = 5400  # scheduler time the demo runs before the tests look
STEP_SECONDS = 300


@dataclass
class LiveDemo:
    demo: Demo
    viewer: httpx.Client
    admin: httpx.Client

    @property
    def url(self) -> str:
        return self.demo.url

    def status(self) -> dict[str, Any]:
        response = self.viewer.get("/api/v1/status")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session")
def demo() -> Iterator[LiveDemo]:
    clock = VirtualClock()
    with Demo(DemoOptions(port=0, seed=1), clock=clock) as d:
        d.start()
        assert d.driver is not None
        for at in range(STEP_SECONDS, SETTLE_SECONDS + 1, STEP_SECONDS):
            clock.advance_to(at)
            d.driver.step()
        headers = {"Authorization": f"Bearer {d.tokens.viewer}"}
        admin_headers = {"Authorization": f"Bearer {d.tokens.admin}"}
        with httpx.Client(base_url=d.url, headers=headers) as viewer, httpx.Client(
            base_url=d.url, headers=admin_headers
        ) as admin:
            yield LiveDemo(d, viewer, admin)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@dataclass
class Recorded:
    page: Any
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def left_loopback(self) -> list[str]:
        """Every request that went anywhere but 127.0.0.1 (file: and data: stay local)."""
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("file", "data", "about", "blob"):
                continue
            if parts.hostname != "127.0.0.1":
                out.append(url)
        return out


@pytest.fixture(scope="session")
def context(browser: Any) -> Iterator[Any]:
    """One context for the session, so its cache keeps plotly.js between pages; each page
    is a new tab, with a sessionStorage (and so a token) of its own."""
    shared = browser.new_context(viewport={"width": 1280, "height": 800})
    yield shared
    shared.close()


def new_page(context: Any, width: int) -> Recorded:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 800})
    recorded = Recorded(page)
    page.on("request", lambda r: recorded.requests.append(r.url))
    page.on("console", lambda m: recorded.console_errors.append(m.text)
            if m.type == "error" else None)
    page.on("pageerror", lambda e: recorded.console_errors.append(str(e)))
    return recorded


def screenshot(request: pytest.FixtureRequest, recorded: Recorded, suffix: str = "") -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("[", "-").replace("]", "").replace(" ", "-") + suffix
    recorded.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _record(request: pytest.FixtureRequest, context: Any, width: int) -> Iterator[Recorded]:
    recorded = new_page(context, width)
    try:
        yield recorded
    finally:
        screenshot(request, recorded)
        recorded.page.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, context: Any) -> Iterator[Recorded]:
    yield from _record(request, context, 1280)


@pytest.fixture(scope="session")
def _dashboard_tab(context: Any, demo: LiveDemo) -> Iterator[Recorded]:
    """One tab on the live dashboard, shared by the tests that only look at it (plotly.js
    is large: loading it once keeps the suite inside its time budget)."""
    recorded = new_page(context, 1280)
    recorded.page.goto(demo.demo.dashboard_url() + "&refresh=1")
    recorded.page.wait_for_selector("tr[data-project]", timeout=15_000)
    yield recorded
    recorded.page.close()


@pytest.fixture
def dashboard(request: pytest.FixtureRequest, _dashboard_tab: Recorded) -> Iterator[Recorded]:
    _dashboard_tab.page.set_viewport_size({"width": 1280, "height": 800})
    yield _dashboard_tab
    screenshot(request, _dashboard_tab)
