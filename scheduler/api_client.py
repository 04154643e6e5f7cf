"""The scheduler's side of the REST API: read the quota tree, report each cycle's status.

Owns two adapters over HTTP (httpx): `HttpQuotaSource`, the `QuotaSource` port, which
fetches /api/v1/quota-tree with If-None-Match so an unchanged tree costs a 304, and keeps
the last good tree when the API is unreachable or answers nonsense; and `StatusReporter`,
a `CycleObserver` that PUTs each cycle's summary to /api/v1/status and never lets a
reporting failure stop scheduling. It is the only module of `scheduler` that may import
httpx, and it must not import `api` (the layers run the other way): it speaks the wire
format, GPUs as decimals converted exactly by `fairshare.resources`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from fairshare.model import CyclePlan
from fairshare.quota_tree import Department, Project, QuotaTree, QuotaTreeError
from fairshare.resources import QuantityError, format_gpus, gpus_to_milli
from scheduler.ports import ClusterSource, CycleReport
from scheduler.status_detail import detail_body

log = logging.getLogger(__name__)

TREE_PATH = "/api/v1/quota-tree"
STATUS_PATH = "/api/v1/status"


class QuotaUnavailable(RuntimeError):
    """No quota tree has ever been read, so there is nothing safe to schedule against."""


def _client(base_url: str, token: str, timeout_s: float) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}
    )


class HttpQuotaSource:
    """`QuotaSource` over the REST API. Pass `client` to reuse one (tests pass the app's)."""

    def __init__(
        self, base_url: str = "", token: str = "", *,
        client: httpx.Client | None = None, timeout_s: float = 5.0,
    ) -> None:
        self._http = client if client is not None else _client(base_url, token, timeout_s)
        self._owns_client = client is None
        self._tree: QuotaTree | None = None
        self._etag: str | None = None
        self.fetches = 0  # full bodies read (a 304 does not count): for tests and metrics
        self.stale = False  # True while the last good tree stands in for an unreachable API

    def quota_tree(self) -> QuotaTree:
        headers = {"If-None-Match": self._etag} if self._etag and self._tree else {}
        try:
            response = self._http.get(TREE_PATH, headers=headers)
        except httpx.HTTPError as exc:
            return self._last_good(f"quota API unreachable: {exc}")
        if response.status_code == 304 and self._tree is not None:
            self.stale = False
            return self._tree
        if response.status_code != 200:
            return self._last_good(f"quota API answered {response.status_code}: {response.text}")
        try:
            tree = tree_from_json(response.json())
        except (ValueError, KeyError, TypeError, QuotaTreeError, QuantityError,
                RecursionError) as exc:
            return self._last_good(f"quota API sent a tree that does not parse: {exc}")
        self._tree, self._etag = tree, response.headers.get("ETag")
        self.fetches += 1
        self.stale = False
        return tree

    def _last_good(self, problem: str) -> QuotaTree:
        if self._tree is None:
            raise QuotaUnavailable(f"{problem}; no quota tree has been read yet")
        self.stale = True
        log.warning("%s; keeping the last good quota tree (ETag %s)", problem, self._etag)
        return self._tree

    def close(self) -> None:
        if self._owns_client:
            self._http.close()


def _opt_milli(value: Any, field: str) -> int | None:
    return None if value is None else gpus_to_milli(value, field)


def tree_from_json(body: Mapping[str, Any]) -> QuotaTree:
    """The API's quota-tree body -> a validated `QuotaTree` (exact milli-GPUs)."""
    departments = [
        Department(
            name=d["name"],
            parent=d.get("parent"),
            deserved_milli=gpus_to_milli(d["deserved_gpus"], "deserved_gpus"),
            over_quota_weight_milli=_opt_milli(d.get("over_quota_weight"), "over_quota_weight"),
            limit_milli=_opt_milli(d.get("limit_gpus"), "limit_gpus"),
            priority=int(d.get("priority", 0)),
        )
        for d in body["departments"]
    ]
    projects = [
        Project(
            name=p["name"],
            department=p.get("department"),
            deserved_milli=gpus_to_milli(p["deserved_gpus"], "deserved_gpus"),
            over_quota_weight_milli=_opt_milli(p.get("over_quota_weight"), "over_quota_weight"),
            limit_milli=_opt_milli(p.get("limit_gpus"), "limit_gpus"),
            priority=int(p.get("priority", 0)),
            node_pools=tuple(p.get("node_pools") or ()),
            max_interactive_seconds=p.get("max_interactive_seconds"),
            max_training_seconds=p.get("max_training_seconds"),
        )
        for p in body["projects"]
    ]
    _check_depth({d.name: d.parent for d in departments})
    return QuotaTree.build(projects, departments)


MAX_TREE_DEPTH = 64  # the API allows 16 levels; deeper would only strain every division


def _check_depth(parents: Mapping[str, str | None]) -> None:
    """A tree deeper than MAX_TREE_DEPTH is refused here, before any walk recurses into it."""
    for name in parents:
        depth, current = 0, parents.get(name)
        while current is not None:
            depth, current = depth + 1, parents.get(current)
            if depth >= MAX_TREE_DEPTH:
                raise QuotaTreeError(
                    name, f"department is over {MAX_TREE_DEPTH} levels deep (or in a cycle)"
                )


def status_body(at: int, plan: CyclePlan) -> dict[str, Any]:
    """A cycle plan -> the PUT /api/v1/status body (GPUs as exact decimal strings)."""
    projects = [
        {
            "name": s.name,
            "deserved_gpus": format_gpus(s.deserved_milli),
            "fair_share_gpus": format_gpus(s.fair_share_milli),
            "allocated_gpus": format_gpus(s.allocated_milli),
            "demand_gpus": format_gpus(s.demand_milli),
            "running": s.running,
            "pending": s.pending,
        }
        for _, s in sorted(plan.projects.items())
    ]
    pending = [
        {
            "workload": workload,
            "project": reason.project or None,
            "code": str(reason.code),
            "message": reason.message,
        }
        for workload, reason in sorted(plan.pending.items())
    ]
    return {
        "cycle_at": max(at, 0),
        "capacity_gpus": format_gpus(plan.capacity_milli),
        "projects": projects,
        "pending": pending,
    }


class StatusReporter:
    """`CycleObserver` that reports each cycle; failures are logged, never raised.

    With `cluster`, each report also carries the dashboard's detail (nodes, workloads,
    this cycle's evictions), read from that source right after the cycle acted.
    """

    def __init__(
        self, base_url: str = "", token: str = "", *,
        client: httpx.Client | None = None, timeout_s: float = 2.0,
        cluster: ClusterSource | None = None,
    ) -> None:
        self._http = client if client is not None else _client(base_url, token, timeout_s)
        self._owns_client = client is None
        self._cluster = cluster
        self.failures = 0  # reports that did not arrive, for tests and metrics

    def on_cycle(self, report: CycleReport) -> None:
        body = status_body(report.at, report.plan)
        if self._cluster is not None:
            detailed = {**body, **detail_body(report, self._cluster.cluster_state())}
            # Too large for the API's body limit: the summary alone still gets through.
            if self._put(detailed, quiet_413=True) != 413:
                return
        self._put(body)

    def _put(self, body: dict[str, Any], *, quiet_413: bool = False) -> int | None:
        try:
            response = self._http.put(STATUS_PATH, json=body)
        except httpx.HTTPError as exc:
            self.failures += 1
            log.warning("could not report cycle status: %s", exc)
            return None
        if response.status_code == 413 and quiet_413:
            log.warning("status detail too large for the API (413); sending the summary only")
        elif response.status_code >= 300:
            self.failures += 1
            log.warning("status report refused (%s): %s", response.status_code, response.text)
        return response.status_code

    def close(self) -> None:
        if self._owns_client:
            self._http.close()
