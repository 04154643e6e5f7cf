"""The demo's world: a small GPU cluster, a team mix, and a seeded stream of what people do.

Owns what `quotient demo` runs against: 32 GPUs on five nodes, two departments and five
projects, and an endless, reproducible stream of events drawn from one `random.Random(seed)`:
trainings of 1 to 8 GPUs and gangs (sizes in Philly's proportions, multi-GPU jobs weighted
up so 32 GPUs show fragmentation and reclaim), interactive notebooks with GPU fractions that
their owners delete after a while, long-lived inference services, and now and then a quota
change. Workloads are built through the scenario models (`WorkloadSpec` -> `to_timed`), so a
demo workload is exactly what a scenario file could hold. It must not run the loop, read a
clock or talk to the API: the demo driver in `quotient.demo` does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fairshare.model import Node, WorkloadType
from simulations.convert import TimedWorkload, to_nodes, to_timed
from simulations.scenario import NodeSpec, WorkloadSpec

HOUR = 3600

DEPARTMENTS: tuple[dict[str, Any], ...] = (
    {"name": "research", "deserved_gpus": 14},
    {"name": "product", "deserved_gpus": 10},
)
PROJECTS: tuple[dict[str, Any], ...] = (
    {"name": "nlp", "department": "research", "deserved_gpus": 8},
    {"name": "vision", "department": "research", "deserved_gpus": 6},
    {"name": "recsys", "department": "product", "deserved_gpus": 6},
    {"name": "search", "department": "product", "deserved_gpus": 4},
    {"name": "platform", "deserved_gpus": 4, "limit_gpus": 8},
)
NODES = (
    NodeSpec(name="dgx-a100", count=3, gpus=8, gpu_memory_mib=81920, gpu_model="A100-SXM4-80GB",
             cpu=128, memory="1Ti"),
    NodeSpec(name="l40s", count=2, gpus=4, gpu_memory_mib=49152, gpu_model="L40S",
             cpu=64, memory="512Gi"),
)

# Philly (2017, /work/shared/data/philly): 93% of jobs take 1 GPU, 2.2% 2, 2.3% 4, 2.0% 8,
# 0.3% more (gangs). Here multi-GPU sizes are weighted up about tenfold, or 32 GPUs would
# only ever see single-GPU jobs. (per-pod GPUs, pods, weight)
TRAINING_SHAPES: tuple[tuple[int, int, int], ...] = (
    (1, 1, 50), (2, 1, 14), (4, 1, 14), (8, 1, 12), (4, 2, 6), (8, 2, 4),
)
NOTEBOOK_FRACTIONS: tuple[tuple[str, int], ...] = (("0.25", 3), ("0.5", 4), ("1", 2))
RATES_PER_HOUR = {"train": 7.0, "interactive": 4.0, "inference": 0.8, "quota": 0.5}
# What each project mostly does: its share of each kind of arrival.
MIX = {
    "train": {"nlp": 4, "vision": 3, "recsys": 2, "search": 1, "platform": 0},
    "interactive": {"nlp": 2, "vision": 2, "recsys": 2, "search": 2, "platform": 0},
    "inference": {"nlp": 0, "vision": 0, "recsys": 1, "search": 2, "platform": 3},
}


def demo_nodes() -> tuple[Node, ...]:
    return tuple(node for spec in NODES for node in to_nodes(spec))


@dataclass(frozen=True)
class Submit:
    at: int
    workload: TimedWorkload  # delete_at and duration already drawn


@dataclass(frozen=True)
class QuotaChange:
    at: int
    project: str
    deserved_gpus: int


DemoEvent = Submit | QuotaChange


@dataclass
class DemoWorkload:
    """An endless stream of events in time order; the same seed gives the same stream."""

    seed: int = 1
    rng: random.Random = field(init=False)
    _count: int = field(init=False, default=0)
    _deserved: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._deserved = {p["name"]: int(p["deserved_gpus"]) for p in PROJECTS}

    def events(self) -> Iterator[DemoEvent]:
        yield from self._opening()
        clocks = {kind: self._gap(kind) for kind in RATES_PER_HOUR}
        while True:
            kind = min(clocks, key=lambda k: (clocks[k], k))
            at = clocks[kind]
            clocks[kind] = at + self._gap(kind)
            yield self._quota(at) if kind == "quota" else self._submit(kind, at)

    def _opening(self) -> Iterator[DemoEvent]:
        """A busy start: every team at work, so borrowing and waiting show at once."""
        for kind, count in (("inference", 3), ("train", 12), ("interactive", 5)):
            for _ in range(count):
                yield self._submit(kind, 0)

    def _gap(self, kind: str) -> int:
        return max(1, round(self.rng.expovariate(RATES_PER_HOUR[kind] / HOUR)))

    def _pick(self, weights: dict[str, int]) -> str:
        names = sorted(n for n, w in weights.items() if w > 0)
        return self.rng.choices(names, weights=[weights[n] for n in names])[0]

    def _lognormal(self, median_s: float, low_s: int, high_s: int) -> int:
        drawn = self.rng.lognormvariate(math.log(median_s), 0.8)
        return int(min(max(drawn, low_s), high_s))

    def _submit(self, kind: str, at: int) -> Submit:
        project = self._pick(MIX[kind])
        self._count += 1
        name = f"{project}-{kind[:5]}-{self._count}"
        spec: dict[str, Any] = {"name": name, "project": project, "submit_at": at,
                                "type": WorkloadType(kind)}
        if kind == "train":
            per_pod, pods = self._training_shape()
            spec |= {"gpus": per_pod, "pods": pods,
                     "duration": self._lognormal(1.5 * HOUR, 600, 8 * HOUR)}
        elif kind == "interactive":
            fraction = self._notebook_fraction()
            spec |= {"gpus": 1} if fraction == "1" else {"gpu_fraction": Decimal(fraction)}
            spec["delete_at"] = at + self._lognormal(1.5 * HOUR, 1200, 6 * HOUR)
        else:
            spec |= {"gpu_fraction": Decimal("0.5")} if self.rng.random() < 0.5 else {"gpus": 1}
            spec["delete_at"] = at + self._lognormal(4 * HOUR, HOUR, 12 * HOUR)
        return Submit(at, to_timed(WorkloadSpec(**spec)))

    def _training_shape(self) -> tuple[int, int]:
        shapes = TRAINING_SHAPES
        chosen = self.rng.choices(shapes, weights=[s[2] for s in shapes])[0]
        return chosen[0], chosen[1]

    def _notebook_fraction(self) -> str:
        options = NOTEBOOK_FRACTIONS
        return self.rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]

    def _quota(self, at: int) -> QuotaChange:
        """Move a GPU or two of guarantee between projects, as a platform team would."""
        project = self._pick({p["name"]: 1 for p in PROJECTS})
        step = self.rng.choice((-2, -1, 1, 2))
        new = min(max(self._deserved[project] + step, 1), 10)
        self._deserved[project] = new
        return QuotaChange(at, project, new)
