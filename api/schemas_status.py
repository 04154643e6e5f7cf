"""Bodies of the live status: what the scheduler reports each cycle, and what people read.

Owns the wire shape of `PUT /api/v1/status` (a cycle's summary, GPUs as decimals) and of
`GET /api/v1/status` (per project: deserved, fair share, allocated, running and pending
workloads with their reasons; the cluster's total, allocated and idle GPUs). It must not
store or compute anything.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.fields import Count, CycleTime, GpuNumber, MilliFromDecimal
from api.schemas_dashboard import EvictionIn, NodeIn, WorkloadIn

MAX_ITEMS = 100_000  # bounds a report's size; a cluster has far fewer projects or pods


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectUsageIn(_In):
    name: str = Field(min_length=1, max_length=253)
    deserved_gpus: MilliFromDecimal
    fair_share_gpus: MilliFromDecimal
    allocated_gpus: MilliFromDecimal
    demand_gpus: MilliFromDecimal = 0
    running: Count = Field(description="Workloads running after it")
    pending: Count = Field(description="Workloads still pending")


class PendingIn(_In):
    workload: str = Field(min_length=1, max_length=512)
    project: str | None = Field(
        None, max_length=253, description="Its project, when the scheduler knows it"
    )
    code: str = Field(min_length=1, max_length=64, description="e.g. OverFairShare")
    message: str = Field(max_length=4096, description="What would have to change")


class StatusReportIn(_In):
    """One scheduling cycle's summary, sent by the scheduler (role `scheduler`)."""

    cycle_at: CycleTime = Field(description="Cycle time, scheduler seconds")
    capacity_gpus: MilliFromDecimal = Field(description="GPUs in the cluster this cycle")
    projects: list[ProjectUsageIn] = Field(max_length=MAX_ITEMS)
    pending: list[PendingIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    # Optional detail for the dashboard (api.schemas_dashboard); None = not reported.
    nodes: list[NodeIn] | None = Field(None, max_length=MAX_ITEMS)
    workloads: list[WorkloadIn] | None = Field(None, max_length=MAX_ITEMS)
    evictions: list[EvictionIn] = Field(default_factory=list, max_length=MAX_ITEMS)


class PendingOut(BaseModel):
    workload: str
    code: str
    message: str


class UnattributedPendingOut(PendingOut):
    project: str | None


class ClusterOut(BaseModel):
    total_gpus: GpuNumber
    allocated_gpus: GpuNumber
    idle_gpus: GpuNumber


class ProjectStatusOut(BaseModel):
    name: str
    deserved_gpus: GpuNumber = Field(description="Configured guarantee (current)")
    fair_share_gpus: GpuNumber = Field(description="Fair share of the last cycle")
    allocated_gpus: GpuNumber
    demand_gpus: GpuNumber
    running: int
    pending: int
    pending_reasons: list[PendingOut]


class StatusOut(BaseModel):
    reported_at: datetime | None = Field(description="When the last report arrived; null = none")
    cycle_at: int | None
    cluster: ClusterOut
    projects: list[ProjectStatusOut]
    unattributed_pending: list[UnattributedPendingOut] = Field(
        description="Pending workloads whose project is unknown or no longer exists"
    )


class ProjectStatusReport(ProjectStatusOut):
    reported_at: datetime | None
