"""Request and response bodies of the REST API (pydantic, at the edge only).

Owns the wire shape of departments, projects, the quota tree, the audit log and pages:
field names as DESIGN §1 spells them, GPUs as decimals in and numbers out. Single-field
rules (types, bounds, DNS-1123 names, at most 3 decimals) live here; rules that need other
fields or other objects (limit >= deserved, parents, cycles) live in the store. It must not
touch the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.errors import Issue
from api.fields import DnsLabel, GpuNumber, MilliFromDecimal, Priority, Seconds


def _unique(pools: list[str]) -> list[str]:
    if len(set(pools)) != len(pools):
        dupes = sorted({p for p in pools if pools.count(p) > 1})
        raise ValueError(f"must not repeat a pool, got {', '.join(dupes)} twice")
    return pools


NodePools = Annotated[
    list[DnsLabel], Field(max_length=64, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------- departments


class DepartmentCreate(_In):
    name: DnsLabel
    parent: DnsLabel | None = Field(None, description="Enclosing department; null = top level")
    deserved_gpus: MilliFromDecimal = Field(0, description="Guaranteed GPUs")
    over_quota_weight: MilliFromDecimal | None = Field(
        None, description="Weight for surplus GPUs; null = equal to deserved_gpus"
    )
    limit_gpus: MilliFromDecimal | None = Field(None, description="Hard cap; null = none")
    priority: Priority = Field(0, description="Surplus tier: higher tiers get surplus first")


class DepartmentPatch(_In):
    """Only the fields present are changed; `null` clears a nullable field."""

    parent: DnsLabel | None = None
    deserved_gpus: MilliFromDecimal = 0
    over_quota_weight: MilliFromDecimal | None = None
    limit_gpus: MilliFromDecimal | None = None
    priority: Priority = 0


class DepartmentOut(BaseModel):
    name: str
    parent: str | None
    deserved_gpus: GpuNumber
    over_quota_weight: GpuNumber | None
    limit_gpus: GpuNumber | None
    priority: int
    etag: str = Field(description="Send it back as If-Match to update or delete safely")
    created_at: datetime
    updated_at: datetime


class DepartmentWritten(DepartmentOut):
    warnings: list[Issue] = Field(description="Accepted, but worth a look")


class DepartmentPage(BaseModel):
    items: list[DepartmentOut]
    total: int
    limit: int
    offset: int


# -------------------------------------------------------------------- projects


class ProjectCreate(_In):
    name: DnsLabel
    department: DnsLabel | None = Field(None, description="Parent department; null = top level")
    deserved_gpus: MilliFromDecimal = Field(0, description="Guaranteed GPUs")
    over_quota_weight: MilliFromDecimal | None = Field(
        None, description="Weight for surplus GPUs; null = equal to deserved_gpus"
    )
    limit_gpus: MilliFromDecimal | None = Field(None, description="Hard cap; null = none")
    priority: Priority = Field(0, description="Surplus tier: higher tiers get surplus first")
    node_pools: NodePools = Field(default_factory=list, description="Allowed pools; [] = any")
    max_interactive_seconds: Seconds | None = None
    max_training_seconds: Seconds | None = None


class ProjectPatch(_In):
    """Only the fields present are changed; `null` clears a nullable field."""

    department: DnsLabel | None = None
    deserved_gpus: MilliFromDecimal = 0
    over_quota_weight: MilliFromDecimal | None = None
    limit_gpus: MilliFromDecimal | None = None
    priority: Priority = 0
    node_pools: NodePools = Field(default_factory=list)
    max_interactive_seconds: Seconds | None = None
    max_training_seconds: Seconds | None = None


class ProjectOut(BaseModel):
    name: str
    department: str | None
    deserved_gpus: GpuNumber
    over_quota_weight: GpuNumber | None
    limit_gpus: GpuNumber | None
    priority: int
    node_pools: list[str]
    max_interactive_seconds: int | None
    max_training_seconds: int | None
    etag: str = Field(description="Send it back as If-Match to update or delete safely")
    created_at: datetime
    updated_at: datetime


class ProjectWritten(ProjectOut):
    warnings: list[Issue] = Field(description="Accepted, but worth a look")


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    total: int
    limit: int
    offset: int


# ------------------------------------------------------------ tree and audit


class QuotaTreeOut(BaseModel):
    """Every department and project with every field: what the scheduler divides by."""

    generation: int = Field(description="Changes on every write; also the ETag")
    departments: list[DepartmentOut]
    projects: list[ProjectOut]


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="Role and token name or fingerprint, e.g. admin#alice")
    kind: str = Field(description="department | project | status")
    name: str
    action: str = Field(
        description="create | update | delete; report (a status report, summarised); denied "
        "(a refused write: `after` holds status, reason, method, path, source, request_id)"
    )
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    generation: int


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    total: int
    limit: int
    offset: int
