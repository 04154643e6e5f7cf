"""The Kubernetes API calls a module makes, read from its source, as RBAC (group, resource,
verb) triples: so the manifests' Roles can be checked against what the code really calls.

Reads the `kubernetes` client's method names (`create_namespaced_pod_binding`, `read_node`,
`list_pod_for_all_namespaces`, ...) wherever they are called or passed (a `list_*` handed to
`watch.Watch().stream` is a list and a watch), and the raw paths given to `call_api`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

Triple = tuple[str, str, str]  # (apiGroup, resource, verb)

VERBS = {
    "list": "list",
    "read": "get",
    "create": "create",
    "replace": "update",
    "patch": "patch",
    "delete_collection": "deletecollection",
    "delete": "delete",
}
RESOURCES = {  # the client's singular snake_case -> (group, plural); events: by the API class
    "pod": ("", "pods"),
    "node": ("", "nodes"),
    "namespace": ("", "namespaces"),
    "config_map": ("", "configmaps"),
    "secret": ("", "secrets"),
    "service": ("", "services"),
    "event": ("", "events"),
    "lease": ("coordination.k8s.io", "leases"),
    "pod_disruption_budget": ("policy", "poddisruptionbudgets"),
    "mutating_webhook_configuration": (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
}
SUBRESOURCES = ("binding", "eviction", "status")
_METHOD = re.compile(
    r"^(?P<verb>" + "|".join(sorted(VERBS, key=len, reverse=True)) + r")_"
    r"(?:namespaced_)?(?P<rest>[a-z_]+?)(?:_for_all_namespaces)?$"
)
_RAW = re.compile(r"^/api(?:s/(?P<group>[^/]+))?/v\d\w*/(?P<path>.+)$")
_HTTP_VERBS = {
    "GET": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def method_triples(name: str, events_group: str = "") -> list[Triple]:
    """RBAC triples of one client method name, or [] when it is not an API call."""
    match = _METHOD.match(name)
    if match is None:
        return []
    rest, sub = match.group("rest"), ""
    for candidate in SUBRESOURCES:
        if rest.endswith("_" + candidate) and rest[: -len(candidate) - 1] in RESOURCES:
            rest, sub = rest[: -len(candidate) - 1], candidate
    if rest not in RESOURCES:
        return []
    group, plural = RESOURCES[rest]
    if rest == "event":
        group = events_group
    return [(group, f"{plural}/{sub}" if sub else plural, VERBS[match.group("verb")])]


def raw_triples(path: str, method: str) -> list[Triple]:
    """A raw `call_api` path such as /api/v1/namespaces/{namespace}/pods/{name}/binding."""
    match = _RAW.match(path)
    if match is None or method.upper() not in _HTTP_VERBS:
        return []
    parts = [p for p in match.group("path").split("/") if p]
    if parts[:1] == ["namespaces"] and len(parts) >= 3:
        parts = parts[2:]  # namespaces/{namespace}/<resource>/...
    resource = parts[0]
    if len(parts) >= 3:
        resource = f"{parts[0]}/{parts[2]}"
    verb = _HTTP_VERBS[method.upper()]
    if verb == "get" and len(parts) == 1:
        verb = "list"
    return [(match.group("group") or "", resource, verb)]


def module_triples(path: Path) -> set[Triple]:
    tree = ast.parse(path.read_text(), filename=str(path))
    events_group = "events.k8s.io" if "EventsV1Api" in path.read_text() else ""
    modules = _imported_names(tree)
    found: set[Triple] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not _on_module(node, modules):
            found |= _call_triples(node, events_group)
    return found


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _on_module(call: ast.Call, modules: set[str]) -> bool:
    """`sharing.read_node(...)`: a function of one of our modules, not a client method."""
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in modules
    )


def _call_triples(call: ast.Call, events_group: str) -> set[Triple]:
    """A client method called (`core.read_node(...)`) or handed over to be called later
    (`Reflector(core.list_node)`, `self._call(api.create_namespaced_event, ...)`); a handed
    over `list_*` is a list and a watch, as reflectors and `watch.Watch().stream` use it."""
    found: set[Triple] = set()
    if isinstance(call.func, ast.Attribute):  # bare names are our own functions, not the client
        name = call.func.attr
        found.update(method_triples(name, events_group))
        if name.startswith("list_") and any(k.arg == "watch" for k in call.keywords):
            found.update((g, r, "watch") for g, r, _ in method_triples(name, events_group))
        if name == "call_api" and len(call.args) >= 2:
            path, method = call.args[0], call.args[1]
            if isinstance(path, ast.Constant) and isinstance(method, ast.Constant):
                found.update(raw_triples(str(path.value), str(method.value)))
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        if isinstance(arg, ast.Attribute):
            for g, r, verb in method_triples(arg.attr, events_group):
                found |= {(g, r, "list"), (g, r, "watch")} if verb == "list" else {(g, r, verb)}
    return found


def rules_triples(rules: list[dict[str, list[str]]]) -> set[Triple]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
