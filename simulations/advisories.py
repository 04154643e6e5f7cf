"""Warnings about a valid scenario: things that run, but probably not as the author meant.

Owns the advice the simulator gives without refusing the file, in the API's own words:
a department whose children deserve more than it does (the division scales them down),
and GPU nodes without `gpu_memory_mib` (0 MiB) in a scenario whose workloads ask for GPU
memory (those requests can never be placed there). It must not refuse anything: problems
that make a scenario unrunnable belong to checks.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from simulations.scenario import Problem, Scenario


def advise(s: Scenario) -> list[Problem]:
    return [*_overcommitted_departments(s), *_nodes_without_gpu_memory(s)]


def _overcommitted_departments(s: Scenario) -> Iterator[Problem]:
    children: dict[str, Decimal] = {}
    edges = [(p.department, p.deserved_gpus) for p in s.projects]
    edges += [(d.parent, d.deserved_gpus) for d in s.departments]
    for parent, deserved in edges:
        if parent is not None:
            children[parent] = children.get(parent, Decimal(0)) + deserved
    for i, d in enumerate(s.departments):
        total = children.get(d.name, Decimal(0))
        if total > d.deserved_gpus:
            yield Problem(
                f"departments[{i}] ({d.name}).deserved_gpus",
                f"its children deserve {total.normalize():f} GPUs together, more than its "
                f"{d.deserved_gpus.normalize():f}; accepted, and the division will scale "
                "their guarantees down",
            )


def _nodes_without_gpu_memory(s: Scenario) -> Iterator[Problem]:
    askers = [w.name for w in s.workloads if w.gpu_memory_mib is not None]
    if not askers:
        return
    shown = ", ".join(askers[:3]) + (f" and {len(askers) - 3} more" if len(askers) > 3 else "")
    for i, node in enumerate(s.cluster.nodes):
        if node.gpus > 0 and node.gpu_memory_mib == 0:
            yield Problem(
                f"cluster.nodes[{i}] ({node.name}).gpu_memory_mib",
                f"not given, so its GPUs have 0 MiB: requests for GPU memory ({shown}) can "
                "never be placed there; give the memory of one GPU, e.g. gpu_memory_mib: 81920",
            )
