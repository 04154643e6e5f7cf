"""`quotient status`, `quotient audit` and `quotient tree`: read-only views of the API.

Owns the command-line surface of the three read endpoints that have no CRUD group: the
live status (per project: deserved, fair share, allocated, waiting), the audit log (who
changed what, newest first) and the quota tree (departments and projects, indented). Each
prints a table, or the API's JSON with `--json`. It must not talk to the database nor
compute shares: the API and the scheduler do.
"""

# No `from __future__ import annotations`: Typer evaluates option types at runtime.

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli_resources import AsJson, Token, Url, _call, _cell
from api.client import DEFAULT_URL


def _table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    table = Table(*headers, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    Console(highlight=False).print(table, markup=False)


def status(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """How the cluster is shared, as of the scheduler's last cycle."""
    data = _call(url, token, lambda c: c.call("GET", "/api/v1/status"))
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    cluster = data["cluster"]
    when = data["reported_at"] or "never (no scheduler has reported yet)"
    typer.echo(f"reported {when}; GPUs: {cluster['total_gpus']} total, "
               f"{cluster['allocated_gpus']} allocated, {cluster['idle_gpus']} idle")
    _table(
        ("PROJECT", "DESERVED", "FAIR SHARE", "ALLOCATED", "DEMAND", "RUNNING", "PENDING"),
        [(p["name"], p["deserved_gpus"], p["fair_share_gpus"], p["allocated_gpus"],
          p["demand_gpus"], p["running"], p["pending"]) for p in data["projects"]],
    )
    for p in data["projects"]:
        for reason in p["pending_reasons"]:
            typer.echo(f"  {p['name']}: {reason['workload']}: {reason['code']}: "
                       f"{reason['message']}")


def audit(
    url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False,
    kind: Annotated[str | None, typer.Option(help="department or project")] = None,
    name: Annotated[str | None, typer.Option(help="Only this object's entries")] = None,
    actor: Annotated[str | None, typer.Option(help="e.g. admin#alice")] = None,
    limit: int = 50, offset: int = 0,
) -> None:
    """Who changed what and when, newest first."""
    params = {k: v for k, v in {"kind": kind, "name": name, "actor": actor, "limit": limit,
                                "offset": offset}.items() if v is not None}
    data = _call(url, token, lambda c: c.call("GET", "/api/v1/audit", params=params))
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    _table(("AT", "ACTOR", "ACTION", "KIND", "NAME", "CHANGED"),
           [(e["at"], e["actor"], e["action"], e["kind"], e["name"], _changed(e))
            for e in data["items"]])
    shown = data["offset"] + len(data["items"])
    if shown < data["total"]:
        typer.echo(f"({shown} of {data['total']}; use --offset {shown} for more)")


def _changed(entry: dict[str, Any]) -> str:
    before, after = entry.get("before") or {}, entry.get("after") or {}
    keys = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    if entry["action"] != "update":
        return "-"
    return ", ".join(f"{k} {_cell(before.get(k))} -> {_cell(after.get(k))}" for k in keys)


def tree(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """Departments and projects as the scheduler reads them, indented by nesting."""
    data = _call(url, token, lambda c: c.call("GET", "/api/v1/quota-tree"))
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    children: dict[str | None, list[tuple[str, str, Any]]] = {}
    for d in data["departments"]:
        children.setdefault(d.get("parent"), []).append(("department", d["name"], d))
    for p in data["projects"]:
        children.setdefault(p.get("department"), []).append(("project", p["name"], p))
    typer.echo(f"generation {data['generation']}")
    stack = [(0, item) for item in sorted(children.get(None, []), reverse=True)]
    while stack:  # a loop, not recursion: any depth prints
        depth, (kind, name, body) = stack.pop()
        limit = body.get("limit_gpus")
        typer.echo(f"{'  ' * depth}{name} ({kind}): deserves {body['deserved_gpus']}"
                   + (f", limit {limit}" if limit is not None else ""))
        stack += [(depth + 1, c) for c in sorted(children.get(name, []), reverse=True)]


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("audit")(audit)
    app.command("tree")(tree)
