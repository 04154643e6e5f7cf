"""Alibaba's OpenB GPU trace (cluster-trace-gpu-v2023): node and pod lists as typed rows.

Owns the schema of `openb_node_list_*.csv` (sn, cpu_milli, memory_mib, gpu, model) and
`openb_pod_list_*.csv` (name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, ...; the
multigpu variants carry only the first five columns) and their validation: a fractional
`gpu_milli` only on a one-GPU pod, `gpu_milli` 1000 on a multi-GPU pod, `gpu_spec` models
separated by `|`. The FGD replay keeps GPU nodes only. It must not replay anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulations.experiments.tables import TraceError, integer, read_rows

MILLI = 1000


@dataclass(frozen=True)
class TraceNode:
    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str


@dataclass(frozen=True)
class TracePod:
    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int  # number of GPUs the pod asks for (0 = CPU only)
    gpu_milli: int  # per GPU: 1..999 share one GPU, 1000 = whole GPUs
    gpu_spec: tuple[str, ...] = ()  # allowed models; empty = any

    @property
    def total_gpu_milli(self) -> int:
        return self.gpus * self.gpu_milli


def _node(row: dict[str, str], line: int) -> TraceNode:
    name = row["sn"].strip()
    if not name:
        raise ValueError("sn: must not be empty")
    return TraceNode(
        name,
        integer(row, "cpu_milli"),
        integer(row, "memory_mib"),
        integer(row, "gpu"),
        row["model"].strip(),
    )


def _pod(row: dict[str, str], line: int) -> TracePod:
    name = row["name"].strip()
    if not name:
        raise ValueError("name: must not be empty")
    gpus = integer(row, "num_gpu")
    milli = integer(row, "gpu_milli")
    if gpus == 0:
        milli = 0  # CPU-only pods: the GPU share has no meaning
    elif not 0 < milli <= MILLI:
        raise ValueError(f"gpu_milli: must be 1..1000 for a GPU pod, got {milli}")
    elif gpus > 1 and milli != MILLI:
        raise ValueError(f"gpu_milli: a {gpus}-GPU pod must ask whole GPUs (1000), got {milli}")
    spec = tuple(sorted({m.strip() for m in row.get("gpu_spec", "").split("|") if m.strip()}))
    return TracePod(
        name, integer(row, "cpu_milli"), integer(row, "memory_mib"), gpus, milli, spec
    )


def load_nodes(path: Path, *, gpu_only: bool = True) -> list[TraceNode]:
    nodes = read_rows(path, ("sn", "cpu_milli", "memory_mib", "gpu", "model"), _node)
    _unique(path, [n.name for n in nodes], "sn")
    kept = [n for n in nodes if n.gpus > 0 or not gpu_only]
    if not kept:
        raise TraceError(f"{path}: no GPU nodes")
    return kept


def load_pods(path: Path) -> list[TracePod]:
    pods = read_rows(path, ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"), _pod)
    _unique(path, [p.name for p in pods], "name")
    if not any(p.gpus for p in pods):
        raise TraceError(f"{path}: no GPU pods")
    return pods


def _unique(path: Path, names: list[str], field: str) -> None:
    seen: set[str] = set()
    for line, name in enumerate(names, start=2):
        if name in seen:
            raise TraceError(f"{path}: line {line}: {field}: {name!r} appears twice")
        seen.add(name)
