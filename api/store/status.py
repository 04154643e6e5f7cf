"""The live status: keep the scheduler's latest cycle summary; join it with the projects.

Owns storing a report (exact milli-GPUs, replacing the previous one in one row) and
reading it back per project, with `deserved` taken from the projects as configured now.
It must not change quotas or the generation (status is not configuration); it adds one
audit entry per report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from api.db.engine import Database
from api.db.models import AuditRow, ProjectRow, StatusRow
from api.errors import not_found
from api.fields import gpus
from api.schemas_status import (
    ClusterOut,
    PendingOut,
    ProjectStatusOut,
    ProjectStatusReport,
    StatusOut,
    StatusReportIn,
    UnattributedPendingOut,
)
from api.store import dashboard
from api.store.common import current_generation, utcnow
from fairshare.resources import format_gpus


def save(db: Database, report: StatusReportIn, actor: str) -> datetime:
    """Replace the last report; one audit entry summarises it (not one per project)."""
    body: dict[str, Any] = {
        "cycle_at": report.cycle_at,
        "capacity_milli": report.capacity_gpus,
        "projects": {
            p.name: {
                "deserved_milli": p.deserved_gpus, "fair_share_milli": p.fair_share_gpus,
                "allocated_milli": p.allocated_gpus, "demand_milli": p.demand_gpus,
                "running": p.running, "pending": p.pending,
            }
            for p in report.projects
        },
        "pending": [r.model_dump() for r in report.pending],
    }
    at = utcnow()
    with db.write() as session:
        previous = session.get(StatusRow, 1)
        body.update(dashboard.carry(previous.body if previous else None, report))
        session.execute(
            update(StatusRow)
            .where(StatusRow.id == 1)
            .values(reported_at=at, capacity_milli=report.capacity_gpus, body=body)
        )
        summary = {"cycle_at": report.cycle_at, "capacity_gpus": format_gpus(report.capacity_gpus),
                   "projects": len(report.projects), "pending": len(report.pending)}
        session.add(AuditRow(at=at, actor=actor, kind="status", name="cluster", action="report",
                             before=None, after=summary, generation=current_generation(session)))
    return at


@dataclass(frozen=True)
class Snapshot:
    """A report joined with the configured projects, ready to render or export."""

    reported_at: datetime | None
    cycle_at: int | None
    capacity_milli: int
    allocated_milli: int
    projects: list[ProjectStatusOut]
    unattributed: list[UnattributedPendingOut]


def snapshot(db: Database) -> Snapshot:
    with db.read() as session:
        row = session.get(StatusRow, 1)
        rows = session.execute(select(ProjectRow.name, ProjectRow.deserved_milli)).all()
        deserved: dict[str, int] = dict(rows)
    body: dict[str, Any] = row.body if row is not None and row.reported_at else {}
    usage: dict[str, dict[str, int]] = body.get("projects", {})
    by_project: dict[str, list[PendingOut]] = defaultdict(list)
    unattributed: list[UnattributedPendingOut] = []
    for reason in body.get("pending", []):
        if reason.get("project") in deserved:
            by_project[reason["project"]].append(PendingOut(**_without_project(reason)))
        else:
            unattributed.append(UnattributedPendingOut(**reason))
    projects = [
        _project(name, deserved[name], usage.get(name, {}), by_project[name])
        for name in sorted(deserved)
    ]
    return Snapshot(
        reported_at=None if row is None else row.reported_at,
        cycle_at=body.get("cycle_at"),
        capacity_milli=int(body.get("capacity_milli", 0)),
        allocated_milli=sum(int(u.get("allocated_milli", 0)) for u in usage.values()),
        projects=projects,
        unattributed=unattributed,
    )


def _without_project(reason: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reason.items() if k != "project"}


def _project(
    name: str, deserved_milli: int, usage: dict[str, int], pending: list[PendingOut]
) -> ProjectStatusOut:
    return ProjectStatusOut(
        name=name,
        deserved_gpus=gpus(deserved_milli),
        fair_share_gpus=gpus(usage.get("fair_share_milli", 0)),
        allocated_gpus=gpus(usage.get("allocated_milli", 0)),
        demand_gpus=gpus(usage.get("demand_milli", 0)),
        running=usage.get("running", 0),
        pending=usage.get("pending", 0),
        pending_reasons=pending,
    )


def cluster_out(snap: Snapshot) -> ClusterOut:
    idle = max(snap.capacity_milli - snap.allocated_milli, 0)
    return ClusterOut(
        total_gpus=gpus(snap.capacity_milli),
        allocated_gpus=gpus(snap.allocated_milli),
        idle_gpus=gpus(idle),
    )


def status_out(db: Database) -> StatusOut:
    snap = snapshot(db)
    return StatusOut(
        reported_at=snap.reported_at,
        cycle_at=snap.cycle_at,
        cluster=cluster_out(snap),
        projects=snap.projects,
        unattributed_pending=snap.unattributed,
    )


def project_status(db: Database, name: str) -> ProjectStatusReport:
    snap = snapshot(db)
    for project in snap.projects:
        if project.name == name:
            return ProjectStatusReport(**project.model_dump(), reported_at=snap.reported_at)
    raise not_found("project", name)

