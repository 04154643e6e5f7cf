"""The dashboard's data: nodes, workloads and allocation history kept with the status row.

Owns what a status report adds to the stored status body beyond the per-project summary:
the latest nodes and workloads as reported, and a bounded history carried from report to
report (one point per change of allocated GPUs or fair share per project, and the latest
evictions with the cycle time they happened at). History lives in the same row as the
report, replaced in the same transaction, so several API processes agree on it without
another table. Reading it back joins pending workloads with their reasons. It must not
change quotas or compute shares: the scheduler reports, this keeps.
"""

from __future__ import annotations

from typing import Any

from api.db.engine import Database
from api.db.models import StatusRow
from api.fields import gpus
from api.schemas_dashboard import (
    EvictionOut,
    GpuOut,
    HistoryOut,
    HistoryPointOut,
    NodeOut,
    NodesOut,
    WorkloadOut,
    WorkloadsOut,
)
from api.schemas_status import StatusReportIn

MAX_HISTORY_POINTS = 720  # an hour of 5-second cycles that all changed something
MAX_EVICTIONS = 500

Body = dict[str, Any]


def carry(previous: Body | None, report: StatusReportIn) -> Body:
    """The parts of the new status body that the dashboard reads."""
    before = previous or {}
    point = {
        "at": report.cycle_at,
        "allocated": {p.name: p.allocated_gpus for p in report.projects},
        "fair": {p.name: p.fair_share_gpus for p in report.projects},
    }
    history: list[Body] = [h for h in before.get("history", []) if h["at"] <= report.cycle_at]
    if history and history[-1]["at"] == point["at"]:
        history.pop()  # a second cycle at the same instant: keep its outcome
    if not history or _values(history[-1]) != _values(point):
        history.append(point)
    evictions = [
        *before.get("evictions_log", []),
        *({"at": report.cycle_at, **e.model_dump()} for e in report.evictions),
    ]
    out: Body = {
        "history": history[-MAX_HISTORY_POINTS:],
        "evictions_log": evictions[-MAX_EVICTIONS:],
    }
    if report.nodes is not None:
        out["nodes"] = [n.model_dump() for n in report.nodes]
    if report.workloads is not None:
        out["workloads"] = [w.model_dump() for w in report.workloads]
    return out


def _values(point: Body) -> tuple[Any, Any]:
    return point["allocated"], point["fair"]


def _row(db: Database) -> tuple[StatusRow | None, Body]:
    with db.read() as session:
        row = session.get(StatusRow, 1)
        body: Body = dict(row.body) if row is not None and row.reported_at else {}
    return row, body


def version(db: Database) -> str:
    """An ETag for everything here: it changes with every report, and only then."""
    row, _ = _row(db)
    stamp = row.reported_at.timestamp() if row is not None and row.reported_at else 0
    return f'"s{int(stamp * 1_000_000)}"'


def nodes_out(db: Database) -> NodesOut:
    row, body = _row(db)
    nodes = [
        NodeOut(
            **{k: v for k, v in n.items() if k != "gpus"},
            gpus=[
                GpuOut(index=i, used_gpus=gpus(g["used_gpus"]), shared=g["shared"],
                       workloads=g["workloads"])
                for i, g in enumerate(n["gpus"])
            ],
        )
        for n in body.get("nodes", [])
    ]
    return NodesOut(reported_at=_reported(row), cycle_at=body.get("cycle_at"), nodes=nodes)


def workloads_out(db: Database) -> WorkloadsOut:
    row, body = _row(db)
    now = int(body.get("cycle_at", 0))
    reasons = {r["workload"]: r for r in body.get("pending", [])}
    listed = [_workload(w, now, reasons.get(w["name"])) for w in body.get("workloads", [])]
    return WorkloadsOut(reported_at=_reported(row), cycle_at=body.get("cycle_at"),
                        workloads=listed)


def _workload(w: Body, now: int, reason: Body | None) -> WorkloadOut:
    since = w["started_at"] if w["state"] == "running" else w["submitted_at"]
    pending = w["state"] == "pending"
    per_pod = w.get("gpus_per_pod")
    return WorkloadOut(
        **{k: v for k, v in w.items() if k not in ("gpus_per_pod", "allocated_gpus")},
        gpus_per_pod=None if per_pod is None else gpus(per_pod),
        allocated_gpus=gpus(w["allocated_gpus"]),
        age_seconds=max(now - int(since or 0), 0),
        reason=reason["code"] if pending and reason else None,
        message=reason["message"] if pending and reason else None,
    )


def history_out(db: Database) -> HistoryOut:
    row, body = _row(db)
    points = [
        HistoryPointOut(
            at=p["at"],
            allocated_gpus={k: gpus(v) for k, v in p["allocated"].items()},
            fair_share_gpus={k: gpus(v) for k, v in p["fair"].items()},
        )
        for p in body.get("history", [])
    ]
    evictions = [
        EvictionOut(**{**e, "gpus": gpus(e["gpus"])}) for e in body.get("evictions_log", [])
    ]
    return HistoryOut(
        reported_at=_reported(row),
        capacity_gpus=gpus(int(body.get("capacity_milli", 0))),
        points=points,
        evictions=evictions,
    )


def _reported(row: StatusRow | None) -> Any:
    return None if row is None else row.reported_at
