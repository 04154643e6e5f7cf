"""Where the dashboard's files are, and the self-contained report page built from them.

Owns the list of static files the page is made of, finding plotly.js inside the installed
`plotly` Python package (so nothing is fetched from a CDN and the library's version is the
one pip installed), and inlining all of it plus a data document into one HTML file that
opens from disk. It must not know where data comes from (the API or a simulation) nor
import any other package of the project.
"""

from __future__ import annotations

import html
import importlib.util
import json
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "style.css": "text/css; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "live.js": "text/javascript; charset=utf-8",
}
PLOTLY = "plotly.min.js"


class AssetMissing(RuntimeError):
    """A file of the page is not installed; the message says which and how to get it."""


def asset(name: str) -> bytes:
    """One of `ASSETS`, or plotly.min.js; KeyError for any other name."""
    if name == PLOTLY:
        return plotly_js()
    if name not in ASSETS:
        raise KeyError(name)
    return (STATIC / name).read_bytes()


def page() -> bytes:
    return (STATIC / "index.html").read_bytes()


def plotly_path() -> Path:
    """plotly.min.js as the `plotly` package ships it (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise AssetMissing("the plotly package is not installed (pip install plotly)")
    path = Path(spec.origin).parent / "package_data" / PLOTLY
    if not path.is_file():
        raise AssetMissing(f"plotly is installed but has no {path}")
    return path


def plotly_js() -> bytes:
    return plotly_path().read_bytes()


def _script(text: str) -> str:
    # "</" inside an inline script would end it early; "<\/" means the same to JavaScript.
    return "<script>" + text.replace("</", "<\\/") + "</script>"


def report_html(data: dict[str, Any], title: str) -> str:
    """A page that shows `data` (the report document render.js reads), nothing fetched."""
    doc = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            "<style>" + (STATIC / "style.css").read_text(encoding="utf-8") + "</style>",
            "</head><body>",
            '<script type="application/json" id="report-data">'
            + doc.replace("</", "<\\/")
            + "</script>",
            '<div id="app"></div>',
            _script(plotly_js().decode("utf-8")),
            _script((STATIC / "render.js").read_text(encoding="utf-8")),
            _script((STATIC / "chart.js").read_text(encoding="utf-8")),
            _script("QuotientDashboard.showReport("
                    "JSON.parse(document.getElementById('report-data').textContent));"),
            "</body></html>",
        ]
    )
