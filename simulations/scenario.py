"""Scenario files: the models of the YAML a person writes, and errors that name the place.

Owns the pydantic models of the scenario format (DESIGN §2: cluster, departments, projects,
workloads, policy, `until`, `seed`, timed `expect:` entries), field-level validation of each
value (GPU amounts go through fairshare.resources: exact, at most 3 decimals), and turning a
problem into one line "FILE: ENTRY: REASON". It must not check relations between entries
(checks.py), convert to core types (convert.py), read files (loader.py) or run anything.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import ErrorDetails, PydanticCustomError

from fairshare.model import ReasonCode, WorkloadType
from fairshare.resources import MILLI_PER_GPU, QuantityError, milli_to_decimal, to_milli

# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    entry: str  # e.g. "workloads[3] (b-2).gpu_fraction"
    reason: str


class ScenarioError(ValueError):
    """A scenario file is malformed; every problem is one line "FILE: ENTRY: REASON"."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p.entry}: {p.reason}" for p in self.problems))


def entry_name(loc: Sequence[str | int], data: object) -> str:
    """A readable path into the raw document; list items carry their `name` when they have one."""
    out = ""
    node: object = data
    for key in loc:
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            out += f"[{key}]" + (f" ({name})" if isinstance(name, str) else "")
            node = item
        else:
            out += f".{key}" if out else key
            node = node.get(key) if isinstance(node, dict) else None
    return out or "scenario"


def problems_from_pydantic(errors: Sequence[ErrorDetails], data: object) -> list[Problem]:
    return [Problem(entry_name(e["loc"], data), _reason(e)) for e in errors]


def _reason(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = _fields_at(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
        return f"unknown field; {hint}"
    own = _OWN_WORDS.get(kind)
    if own is not None:
        return own(error.get("ctx") or {}, error.get("input"))
    return error["msg"].removeprefix("Value error, ")


def _entries(n: object) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _got(value: object) -> str:
    text = repr(value)
    return f"got {text}" if len(text) <= 60 else f"got {text[:57]}..."


# pydantic's wording ("List should have at least 1 item after validation") in ours.
_OWN_WORDS: dict[str, typing.Callable[[dict[str, typing.Any], object], str]] = {
    "too_short": lambda c, v: f"must have at least {_entries(c.get('min_length'))}",
    "too_long": lambda c, v: f"must have at most {_entries(c.get('max_length'))}",
    "greater_than_equal": lambda c, v: f"must be at least {c.get('ge')}, {_got(v)}",
    "greater_than": lambda c, v: f"must be above {c.get('gt')}, {_got(v)}",
    "less_than_equal": lambda c, v: f"must be at most {c.get('le')}, {_got(v)}",
    "less_than": lambda c, v: f"must be below {c.get('lt')}, {_got(v)}",
    "int_parsing": lambda c, v: f"must be a whole number, {_got(v)}",
    "int_type": lambda c, v: f"must be a whole number, {_got(v)}",
    "int_from_float": lambda c, v: f"must be a whole number, {_got(v)}",
    "float_parsing": lambda c, v: f"must be a number, {_got(v)}",
    "float_type": lambda c, v: f"must be a number, {_got(v)}",
    "string_type": lambda c, v: f"must be text, {_got(v)}",
    "bool_parsing": lambda c, v: f"must be true or false, {_got(v)}",
    "bool_type": lambda c, v: f"must be true or false, {_got(v)}",
    "literal_error": lambda c, v: f"must be one of {c.get('expected')}, {_got(v)}",
    "enum": lambda c, v: f"must be one of {c.get('expected')}, {_got(v)}",
    "list_type": lambda c, v: f"must be a list, {_got(v)}",
    "tuple_type": lambda c, v: f"must be a list, {_got(v)}",
    "dict_type": lambda c, v: f"must be a mapping (key: value), {_got(v)}",
    "model_type": lambda c, v: f"must be a mapping (key: value), {_got(v)}",
    "model_attributes_type": lambda c, v: f"must be a mapping (key: value), {_got(v)}",
}


def _fields_at(loc: Sequence[str | int]) -> list[str]:
    model: type[BaseModel] = Scenario
    for key in loc[:-1]:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        inner = _inner_model(field.annotation) if field is not None else None
        if inner is not None:
            model = inner
    return sorted(model.model_fields)


def _inner_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# ----------------------------------------------------------------- value validators


def _fail(reason: str) -> PydanticCustomError:
    return PydanticCustomError("scenario_value", reason)


def _milli(value: object) -> int:
    try:
        return to_milli(value, "value")
    except QuantityError as e:
        raise _fail(e.reason) from None


def _gpus(value: object) -> Decimal:
    return milli_to_decimal(_milli(value))


def _whole_gpus(value: object) -> int:
    milli = _milli(value)
    if milli % MILLI_PER_GPU:
        raise _fail(
            f"must be a whole number of GPUs, got {value}; for part of one GPU use "
            f"gpu_fraction (e.g. gpu_fraction: 0.5)"
        )
    if milli == 0:
        raise _fail("must be at least 1")
    return milli // MILLI_PER_GPU


def _fraction(value: object) -> Decimal:
    milli = _milli(value)
    if milli == 0:
        raise _fail("must be above 0")
    if milli == MILLI_PER_GPU:
        raise _fail("a whole GPU is not a fraction; use gpus: 1")
    if milli > MILLI_PER_GPU:
        raise _fail(f"must be below 1 (a part of one GPU), got {value}; use gpus: N for N GPUs")
    return milli_to_decimal(milli)


def _cpu(value: object) -> int:
    """CPU cores as Kubernetes writes them: 8, 0.5 or "500m" -> milli-CPU."""
    if isinstance(value, str) and value.strip().endswith("m"):
        milli = _milli(value.strip()[:-1])
        if milli % MILLI_PER_GPU:
            raise _fail(f"millicores must be a whole number, got {value}")
        return milli // MILLI_PER_GPU
    return _milli(value)


_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?$")
_MEMORY_UNITS = {
    None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}  # fmt: skip


def _memory(value: object) -> int:
    """Memory as Kubernetes writes it: bytes, or "64Gi", "512M" -> bytes."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(f'must be bytes or a quantity like "64Gi", got {value!r}')
    match = _MEMORY.match(str(value).strip())
    if match is None:
        raise _fail(f'must be bytes or a quantity like "64Gi", got {value!r}')
    amount = Decimal(match.group(1)) * _MEMORY_UNITS[match.group(2)]
    if amount != amount.to_integral_value():
        raise _fail(f"must be a whole number of bytes, got {value}")
    return int(amount)


_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise _fail(
            f"{value!r} is not a valid name: use letters, digits, '-', '_' or '.', "
            f"starting and ending with a letter or digit, at most 63 characters"
        )
    return value


Name = Annotated[str, AfterValidator(_name)]
Gpus = Annotated[Decimal, BeforeValidator(_gpus)]  # exact, >= 0, at most 3 decimals
WholeGpus = Annotated[int, BeforeValidator(_whole_gpus)]
Fraction = Annotated[Decimal, BeforeValidator(_fraction)]
Weight = Annotated[Decimal, BeforeValidator(_gpus)]  # same rule as GPUs: exact, >= 0
CpuMilli = Annotated[int, BeforeValidator(_cpu)]
MemoryBytes = Annotated[int, BeforeValidator(_memory)]
Seconds = Annotated[int, Field(ge=0)]
PositiveSeconds = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
Effect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------- the cluster


class TaintSpec(_Strict):
    key: str
    value: str = ""
    effect: Effect = "NoSchedule"


class TolerationSpec(_Strict):
    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: Effect | Literal[""] = ""


class NodeSpec(_Strict):
    name: Name
    count: Annotated[int, Field(ge=1)] = 1  # N > 1 makes nodes NAME-1..NAME-N
    gpus: Count = 0
    gpu_memory_mib: Count = 0
    gpu_model: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[TaintSpec] = Field(default_factory=list)
    cpu: CpuMilli | None = None
    memory: MemoryBytes | None = None


class ClusterSpec(_Strict):
    nodes: Annotated[list[NodeSpec], Field(min_length=1)]


# ----------------------------------------------------------------------- the quotas


class DepartmentSpec(_Strict):
    name: Name
    deserved_gpus: Gpus = Decimal(0)
    over_quota_weight: Weight | None = None
    limit_gpus: Gpus | None = None
    priority: int = 0
    parent: str | None = None


class ProjectSpec(_Strict):
    name: Name
    deserved_gpus: Gpus = Decimal(0)
    over_quota_weight: Weight | None = None  # default: deserved_gpus
    limit_gpus: Gpus | None = None
    priority: int = 0
    department: str | None = None
    node_pools: list[str] = Field(default_factory=list)
    max_interactive_seconds: PositiveSeconds | None = None
    max_training_seconds: PositiveSeconds | None = None


# ------------------------------------------------------------------------ workloads


class WorkloadSpec(_Strict):
    name: Name
    project: str
    gpus: WholeGpus | None = None  # per pod; exactly one of gpus, gpu_fraction, gpu_memory_mib
    gpu_fraction: Fraction | None = None
    gpu_memory_mib: Annotated[int, Field(ge=1)] | None = None
    pods: Annotated[int, Field(ge=1)] = 1  # N > 1 makes a gang scheduled all-or-nothing
    min_pods: Annotated[int, Field(ge=1)] | None = None
    type: WorkloadType = WorkloadType.TRAIN
    priority: int = 0
    preemptible: bool | None = None  # default: train only
    submit_at: Seconds = 0
    duration: PositiveSeconds | None = None  # run time once started; None = until the end
    delete_at: Seconds | None = None  # its owner removes it
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[TolerationSpec] = Field(default_factory=list)
    cpu: CpuMilli | None = None  # per pod
    memory: MemoryBytes | None = None  # per pod


class PolicySpec(_Strict):
    max_reclaim_gpus_per_cycle: Gpus | None = None
    min_runtime_seconds: Seconds = 0
    placement: Literal["binpack", "spread"] = "binpack"
    cycle_seconds: PositiveSeconds = 10
    reclaim: bool = True
    preempt: bool = True


# --------------------------------------------------------------------- expectations


def _eviction_counts(value: object) -> object:
    """`evictions: 0` (all projects together) or `evictions: {team-b: 1, team-a: 0}`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    ):
        return value
    raise _fail("must be a count (all projects) or a map project -> count, counts >= 0")


EvictionCounts = Annotated[int | dict[str, int], BeforeValidator(_eviction_counts)]
WorkloadState = Literal["running", "pending", "finished", "deleted"]


class ProjectExpect(_Strict):
    allocated_gpus: Gpus | None = None
    fair_share_gpus: Gpus | None = None
    running: Count | None = None  # workloads
    pending: Count | None = None  # workloads


class WorkloadExpect(_Strict):
    state: WorkloadState | None = None
    reason: ReasonCode | None = None  # pending reason code
    node: str | None = None
    gpu_memory_limit_mib: Count | None = None
    gpu_load_at_most: Gpus | None = None  # total load of the GPU(s) it sits on
    evictions: Count | None = None  # times evicted so far


class Expectation(_Strict):
    """A check at one time (`at`), or over a window of eviction history (`between`/`after`)."""

    at: Seconds | None = None
    between: tuple[Seconds, Seconds] | None = None  # inclusive
    after: Seconds | None = None  # strictly after, to the end of the run
    note: str | None = None
    allocated_gpus: Gpus | None = None
    running: Count | None = None
    pending: Count | None = None
    projects: dict[str, ProjectExpect] = Field(default_factory=dict)
    workloads: dict[str, WorkloadExpect] = Field(default_factory=dict)
    evictions: EvictionCounts | None = None
    evictions_by_type: dict[WorkloadType, Count] = Field(default_factory=dict)
    evicted: list[str] = Field(default_factory=list)  # workloads evicted in the window
    not_evicted: list[str] = Field(default_factory=list)


# ----------------------------------------------------------------------- a scenario


class Scenario(_Strict):
    name: str
    description: str | None = None
    seed: int | None = None  # recorded in the result; the core itself draws no randomness
    cluster: ClusterSpec
    departments: list[DepartmentSpec] = Field(default_factory=list)
    projects: Annotated[list[ProjectSpec], Field(min_length=1)]
    workloads: list[WorkloadSpec] = Field(default_factory=list)
    until: Seconds  # the run covers [0, until]; 0 runs just the first instant
    policy: PolicySpec = Field(default_factory=PolicySpec)
    expect: list[Expectation] = Field(default_factory=list)
