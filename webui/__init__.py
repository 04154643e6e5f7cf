"""The dashboard's browser side: one page and its scripts, shared by the live API and reports.

`assets.asset(name)` gives a static file, `assets.plotly_js()` the charting library from
the installed `plotly` package, and `assets.report_html(data)` a self-contained page with
everything inlined, for `quotient simulate --report`. It imports nothing of the project.
"""
