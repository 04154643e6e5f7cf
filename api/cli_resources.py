"""`quotient projects ...` and `quotient departments ...`: CRUD against the REST API.

Owns the command-line surface (options, human tables, `--json`, exit codes). Values are
sent as typed, GPUs as the exact strings people wrote, and the API alone validates: its
message is printed and the exit status is non-zero. It must not talk to the database.
"""

# No `from __future__ import annotations`: Typer evaluates option types at runtime, and one
# of them (the list filter) depends on a local variable.

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.client import DEFAULT_URL, ApiCallError, ApiClient

Url = Annotated[
    str, typer.Option("--url", envvar="QUOTIENT_URL", help="API base URL")
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="QUOTIENT_TOKEN", help="Bearer token",
                 show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON, for scripts")]
IfMatch = Annotated[
    str | None, typer.Option("--if-match", help="Only if the object still has this ETag")
]
Gpus = Annotated[str | None, typer.Option(help="GPUs, e.g. 4 or 0.5")]
NullableGpus = Annotated[str | None, typer.Option(help="GPUs, or 'none' to clear")]
Weight = Annotated[str | None, typer.Option(help="Surplus weight, e.g. 2 or 0.5")]
ClearableWeight = Annotated[
    str | None, typer.Option(help="Surplus weight, or 'none' for equal to deserved")
]
Clearable = Annotated[str | None, typer.Option(help="A value, or 'none' to clear it")]
Cascade = Annotated[bool, typer.Option(help="Also delete its projects and sub-departments")]
Pools = Annotated[list[str] | None, typer.Option("--node-pool", help="Repeat for several")]

PROJECT_COLUMNS = (
    ("NAME", "name"), ("DEPARTMENT", "department"), ("DESERVED", "deserved_gpus"),
    ("WEIGHT", "over_quota_weight"), ("LIMIT", "limit_gpus"), ("PRIORITY", "priority"),
    ("NODE POOLS", "node_pools"), ("ETAG", "etag"),
)
DEPARTMENT_COLUMNS = (
    ("NAME", "name"), ("PARENT", "parent"), ("DESERVED", "deserved_gpus"),
    ("WEIGHT", "over_quota_weight"), ("LIMIT", "limit_gpus"), ("PRIORITY", "priority"),
    ("ETAG", "etag"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _call(url: str, token: str | None, action: Callable[[ApiClient], Any]) -> Any:
    try:
        with ApiClient(url, token) as client:
            return action(client)
    except ApiCallError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _show(data: Any, as_json: bool, columns: Sequence[tuple[str, str]]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    console = Console(highlight=False)
    if isinstance(data, dict) and "items" in data:
        table = Table(*(header for header, _ in columns), box=None, pad_edge=False)
        for item in data["items"]:
            table.add_row(*(_cell(item.get(key)) for _, key in columns))
        console.print(table, markup=False)
        shown = data["offset"] + len(data["items"])
        if shown < data["total"]:
            typer.echo(f"({shown} of {data['total']}; use --offset {shown} for more)")
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    for key, value in data.items():
        if key != "warnings":
            table.add_row(key, _cell(value))
    console.print(table, markup=False)
    for warning in data.get("warnings", []):
        typer.echo(f"warning: {warning['field']}: {warning['reason']}", err=True)


def _nullable(value: str | None) -> Any:
    """'none' (any case) clears a nullable field; anything else goes as typed."""
    return None if value is not None and value.strip().lower() == "none" else value


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _delete(
    url: str, token: str | None, path: str, if_match: str | None, cascade: bool = False
) -> None:
    headers = _fields(**{"If-Match": if_match})
    params = {"cascade": "true"} if cascade else None
    name = path.rsplit("/", 1)[-1]
    also = _subtree(url, token, name) if cascade else ""
    try:
        with ApiClient(url, token) as client:
            client.call("DELETE", path, headers=headers, params=params)
    except ApiCallError as exc:
        # The API names its query parameter; here it is a flag.
        typer.echo(f"error: {str(exc).replace('with cascade=true', 'with --cascade')}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"deleted {name}{also}")


def _subtree(url: str, token: str | None, name: str) -> str:
    """What a cascade removes besides `name`, read from the quota tree just before."""
    tree = _call(url, token, lambda c: c.call("GET", "/api/v1/quota-tree"))
    parent = {d["name"]: d.get("parent") for d in tree["departments"]}

    def under(department: str | None) -> bool:
        while department is not None and department != name:
            department = parent.get(department)
        return department == name

    departments = sorted(d for d in parent if d != name and under(d))
    projects = sorted(p["name"] for p in tree["projects"] if under(p.get("department")))
    parts = [f"{kind} {', '.join(items)}" for kind, items in
             (("departments", departments), ("projects", projects)) if items]
    return f", and with it {'; '.join(parts)}" if parts else ""


def crud_group(
    plural: str, columns: Sequence[tuple[str, str]], list_filter: str
) -> typer.Typer:
    """A Typer group with list and get for one resource; the rest is added per resource."""
    group = typer.Typer(help=f"Manage {plural} through the REST API.", no_args_is_help=True)
    base = f"/api/v1/{plural}"

    @group.command("list")
    def list_(
        url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False,
        within: Annotated[str | None, typer.Option(f"--{list_filter}")] = None,
        limit: int = 100, offset: int = 0,
    ) -> None:
        """List them, by name."""
        params = _fields(limit=limit, offset=offset, **{list_filter: within})
        _show(_call(url, token, lambda c: c.call("GET", base, params=params)), as_json, columns)

    @group.command()
    def get(
        name: str, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False
    ) -> None:
        """Show one."""
        _show(_call(url, token, lambda c: c.call("GET", f"{base}/{name}")), as_json, columns)

    return group


PROJECTS = "/api/v1/projects"
DEPARTMENTS = "/api/v1/departments"


def _patch(
    url: str, token: str | None, path: str, body: dict[str, Any], if_match: str | None,
) -> Any:
    headers = _fields(**{"If-Match": if_match})
    return _call(url, token, lambda c: c.call("PATCH", path, json=body, headers=headers))


def _seconds(key: str, value: Any) -> Any:
    # Seconds are integers on the wire; send digits as a number so the API sees an int.
    if key.endswith("_seconds") and isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def project_create(
    name: str, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False,
    department: str | None = None, deserved_gpus: Gpus = None,
    over_quota_weight: Weight = None, limit_gpus: Gpus = None, priority: int | None = None,
    node_pool: Pools = None, max_interactive_seconds: int | None = None,
    max_training_seconds: int | None = None,
) -> None:
    """Create a project."""
    body = _fields(
        name=name, department=department, deserved_gpus=deserved_gpus,
        over_quota_weight=over_quota_weight, limit_gpus=limit_gpus, priority=priority,
        node_pools=node_pool, max_interactive_seconds=max_interactive_seconds,
        max_training_seconds=max_training_seconds,
    )
    _show(_call(url, token, lambda c: c.call("POST", PROJECTS, json=body)), as_json,
          PROJECT_COLUMNS)


def project_update(
    name: str, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False,
    if_match: IfMatch = None, department: Clearable = None,
    deserved_gpus: Gpus = None, over_quota_weight: ClearableWeight = None,
    limit_gpus: NullableGpus = None, priority: int | None = None, node_pool: Pools = None,
    clear_node_pools: bool = False, max_interactive_seconds: Clearable = None,
    max_training_seconds: Clearable = None,
) -> None:
    """Change some fields; 'none' clears a nullable one (e.g. --limit-gpus none)."""
    body = _fields(deserved_gpus=deserved_gpus, priority=priority, node_pools=node_pool)
    if clear_node_pools:
        body["node_pools"] = []
    for key, value in (
        ("department", department), ("over_quota_weight", over_quota_weight),
        ("limit_gpus", limit_gpus), ("max_interactive_seconds", max_interactive_seconds),
        ("max_training_seconds", max_training_seconds),
    ):
        if value is not None:
            body[key] = _seconds(key, _nullable(value))
    _show(_patch(url, token, f"{PROJECTS}/{name}", body, if_match), as_json, PROJECT_COLUMNS)


def project_delete(
    name: str, url: Url = DEFAULT_URL, token: Token = None, if_match: IfMatch = None
) -> None:
    """Delete a project."""
    _delete(url, token, f"{PROJECTS}/{name}", if_match)


def department_create(
    name: str, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False,
    parent: str | None = None, deserved_gpus: Gpus = None,
    over_quota_weight: Weight = None, limit_gpus: Gpus = None, priority: int | None = None,
) -> None:
    """Create a department."""
    body = _fields(
        name=name, parent=parent, deserved_gpus=deserved_gpus,
        over_quota_weight=over_quota_weight, limit_gpus=limit_gpus, priority=priority,
    )
    _show(_call(url, token, lambda c: c.call("POST", DEPARTMENTS, json=body)), as_json,
          DEPARTMENT_COLUMNS)


def department_update(
    name: str, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False,
    if_match: IfMatch = None, parent: Clearable = None, deserved_gpus: Gpus = None,
    over_quota_weight: ClearableWeight = None, limit_gpus: NullableGpus = None,
    priority: int | None = None,
) -> None:
    """Change some fields; 'none' clears a nullable one (e.g. --parent none)."""
    body = _fields(deserved_gpus=deserved_gpus, priority=priority)
    for key, value in (
        ("parent", parent), ("over_quota_weight", over_quota_weight), ("limit_gpus", limit_gpus),
    ):
        if value is not None:
            body[key] = _nullable(value)
    _show(_patch(url, token, f"{DEPARTMENTS}/{name}", body, if_match), as_json,
          DEPARTMENT_COLUMNS)


def department_delete(
    name: str, url: Url = DEFAULT_URL, token: Token = None, if_match: IfMatch = None,
    cascade: Cascade = False,
) -> None:
    """Delete a department (refused while it has children, unless --cascade)."""
    _delete(url, token, f"{DEPARTMENTS}/{name}", if_match, cascade)


def projects_group() -> typer.Typer:
    group = crud_group("projects", PROJECT_COLUMNS, "department")
    group.command("create")(project_create)
    group.command("update")(project_update)
    group.command("delete")(project_delete)
    return group


def departments_group() -> typer.Typer:
    group = crud_group("departments", DEPARTMENT_COLUMNS, "parent")
    group.command("create")(department_create)
    group.command("update")(department_update)
    group.command("delete")(department_delete)
    return group
