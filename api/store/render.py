"""Rows to response bodies, and to the snapshots the audit log keeps.

Owns the one mapping from stored milli-GPUs to shown GPUs for departments and projects.
It must not query or validate.
"""

from __future__ import annotations

from typing import Any

from api.db.models import DepartmentRow, ProjectRow
from api.fields import gpus, opt_gpus
from api.schemas import DepartmentOut, ProjectOut
from api.store.common import etag_of

_NOT_AUDITED = {"etag", "created_at", "updated_at"}


def department_out(row: DepartmentRow) -> DepartmentOut:
    return DepartmentOut(
        name=row.name,
        parent=row.parent,
        deserved_gpus=gpus(row.deserved_milli),
        over_quota_weight=opt_gpus(row.over_quota_weight_milli),
        limit_gpus=opt_gpus(row.limit_milli),
        priority=row.priority,
        etag=etag_of(row.revision),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def project_out(row: ProjectRow) -> ProjectOut:
    return ProjectOut(
        name=row.name,
        department=row.department,
        deserved_gpus=gpus(row.deserved_milli),
        over_quota_weight=opt_gpus(row.over_quota_weight_milli),
        limit_gpus=opt_gpus(row.limit_milli),
        priority=row.priority,
        node_pools=list(row.node_pools),
        max_interactive_seconds=row.max_interactive_seconds,
        max_training_seconds=row.max_training_seconds,
        etag=etag_of(row.revision),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def department_snapshot(row: DepartmentRow) -> dict[str, Any]:
    return department_out(row).model_dump(mode="json", exclude=_NOT_AUDITED)


def project_snapshot(row: ProjectRow) -> dict[str, Any]:
    return project_out(row).model_dump(mode="json", exclude=_NOT_AUDITED)
