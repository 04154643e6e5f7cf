"""Builders for scenario documents and simulator parts: short tests with sensible defaults."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from fairshare.model import GpuRequest, Node, PodSpec, Workload, WorkloadType
from fairshare.quota_tree import Project, QuotaTree
from simulations.convert import SimulationInput
from simulations.loader import validate
from simulations.result import SimulationResult, to_document
from simulations.runner import simulate

SCENARIOS = Path(__file__).resolve().parents[2] / "simulations" / "scenarios"
Doc = dict[str, Any]


def wl(name: str, project: str = "team-a", **fields: Any) -> Doc:
    """A workload entry; one whole GPU unless told otherwise."""
    if not {"gpus", "gpu_fraction", "gpu_memory_mib"} & fields.keys():
        fields["gpus"] = 1
    return {"name": name, "project": project, **fields}


def scenario(*workloads: Doc, **top: Any) -> Doc:
    """Two 8-GPU V100 nodes, team-a (deserves 4) and team-b (deserves 2)."""
    doc: Doc = {
        "name": "test",
        "cluster": {
            "nodes": [
                {"name": "dgx1", "count": 2, "gpus": 8, "gpu_memory_mib": 32768, "cpu": 64,
                 "memory": "512Gi"}
            ]
        },
        "projects": [
            {"name": "team-a", "deserved_gpus": 4},
            {"name": "team-b", "deserved_gpus": 2},
        ],
        "workloads": list(workloads) or [wl("a-1")],
        "until": 100,
    }  # fmt: skip
    doc.update(top)
    return copy.deepcopy(doc)


def one_node(gpus: int = 4, **node: Any) -> Doc:
    return {"nodes": [{"name": "n", "gpus": gpus, "gpu_memory_mib": 32768, **node}]}


def write(tmp: Path, doc: Doc, name: str = "scenario.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def load_doc(name: str) -> Doc:
    loaded = yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def run(doc: Doc, source: str = "test.yaml") -> SimulationResult:
    return simulate(validate(doc, source))


def run_until(name: str, until: int) -> Doc:
    """The result document of a shipped scenario cut at `until`.

    Workloads submitted later and the expectations are dropped: neither changes the run up to
    `until`, and the loader refuses both as never reached.
    """
    doc = load_doc(name)
    doc["until"] = until
    doc["expect"] = []
    doc["workloads"] = [w for w in doc["workloads"] if w.get("submit_at", 0) <= until]
    return to_document(run(doc, name))


def sim_input(doc: Doc) -> SimulationInput:
    return validate(doc, "test.yaml")


# ------------------------------------------------------------------ core value types


def node(name: str = "n", gpus: int = 4, **kw: Any) -> Node:
    defaults: dict[str, Any] = {"gpu_memory_mib": 32768, "cpu_milli": 64_000,
                                "memory_bytes": 256 << 30}  # fmt: skip
    return Node(name, gpus, **{**defaults, **kw})


def workload(
    name: str,
    project: str = "team-a",
    *,
    gpus: int = 1,
    fraction: float = 0,
    pods: int = 1,
    cpu_milli: int = 0,
    kind: WorkloadType = WorkloadType.TRAIN,
    **kw: Any,
) -> Workload:
    ask = GpuRequest(fraction_milli=round(fraction * 1000)) if fraction else GpuRequest(whole=gpus)
    names = [name] if pods == 1 else [f"{name}-{i}" for i in range(pods)]
    specs = tuple(PodSpec(p, ask, cpu_milli=cpu_milli) for p in names)
    return Workload(name, project, specs, type=kind, **kw)


def tree(*names: str) -> QuotaTree:
    return QuotaTree.build([Project(n, 4000) for n in names or ("team-a", "team-b")])
