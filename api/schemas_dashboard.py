"""Bodies of the dashboard's reads: nodes and their GPUs, workloads, allocation history.

Owns the optional detail a status report may carry (what the scheduler saw right after a
cycle: nodes with each GPU's load, running and pending workloads, the cycle's evictions)
and the wire shape of `GET /api/v1/nodes`, `/api/v1/workloads` and `/api/v1/history`.
Every field is additive to the status report: a scheduler that sends none of it still
reports exactly as before. It must not store or compute anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.fields import CycleTime, GpuNumber, MemoryMib, MilliFromDecimal, NodeGpuCount, PodCount

MAX_GPUS_PER_NODE = 64  # bounds one node's GPU list; real nodes have 8 or 16
MAX_NODES_PER_WORKLOAD = 4096

WorkloadType = Literal["train", "interactive", "inference"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GpuIn(_In):
    used_gpus: MilliFromDecimal = Field(description="Share of this GPU held (0..1)")
    shared: bool = Field(description="Held by fractional pods")
    workloads: list[str] = Field(default_factory=list, max_length=1000)


class NodeIn(_In):
    name: str = Field(min_length=1, max_length=253)
    pool: str = Field("default", max_length=253)
    gpu_model: str = Field("", max_length=253)
    gpu_memory_mib: MemoryMib = Field(0)
    unschedulable: bool = False
    foreign_gpus: NodeGpuCount = Field(0)
    gpus: list[GpuIn] = Field(default_factory=list, max_length=MAX_GPUS_PER_NODE)


class WorkloadIn(_In):
    name: str = Field(min_length=1, max_length=512)
    project: str = Field(min_length=1, max_length=253)
    type: WorkloadType
    state: Literal["running", "pending"]
    pods: PodCount = Field()
    preemptible: bool
    gpus_per_pod: MilliFromDecimal | None = Field(None, description="Whole or a fraction")
    gpu_memory_mib_per_pod: MemoryMib | None = Field(None)
    allocated_gpus: MilliFromDecimal = 0
    nodes: list[str] = Field(default_factory=list, max_length=MAX_NODES_PER_WORKLOAD)
    submitted_at: CycleTime = Field(description="Scheduler seconds")
    started_at: CycleTime | None = Field(None)


class EvictionIn(_In):
    workload: str = Field(min_length=1, max_length=512)
    project: str = Field(min_length=1, max_length=253)
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=4096)
    gpus: MilliFromDecimal = 0


# ---------------------------------------------------------------------- responses


class GpuOut(BaseModel):
    index: int
    used_gpus: GpuNumber
    shared: bool
    workloads: list[str]


class NodeOut(BaseModel):
    name: str
    pool: str
    gpu_model: str
    gpu_memory_mib: int
    unschedulable: bool
    foreign_gpus: int
    gpus: list[GpuOut]


class NodesOut(BaseModel):
    reported_at: datetime | None
    cycle_at: int | None
    nodes: list[NodeOut]


class WorkloadOut(BaseModel):
    name: str
    project: str
    type: str
    state: str
    pods: int
    preemptible: bool
    gpus_per_pod: GpuNumber | None
    gpu_memory_mib_per_pod: int | None
    allocated_gpus: GpuNumber
    nodes: list[str]
    submitted_at: int
    started_at: int | None
    age_seconds: int = Field(description="Since it started (running) or was submitted")
    reason: str | None = Field(description="Pending only: the reason code")
    message: str | None = Field(description="Pending only: what would have to change")


class WorkloadsOut(BaseModel):
    reported_at: datetime | None
    cycle_at: int | None
    workloads: list[WorkloadOut]


class HistoryPointOut(BaseModel):
    at: int = Field(description="Scheduler seconds")
    allocated_gpus: dict[str, GpuNumber]
    fair_share_gpus: dict[str, GpuNumber]


class EvictionOut(BaseModel):
    at: int
    workload: str
    project: str
    code: str
    message: str
    gpus: GpuNumber


class HistoryOut(BaseModel):
    reported_at: datetime | None
    capacity_gpus: GpuNumber
    points: list[HistoryPointOut] = Field(description="Oldest first; one per change")
    evictions: list[EvictionOut] = Field(description="Oldest first, the latest ones kept")
