"""The quota tree: departments above projects, each with its quota fields.

Owns the one definition of every quota field (see DESIGN §1) and the tree's shape rules:
names unique across the tree, parents that exist, no cycles. It must not divide GPUs
(division.py does) nor know where the tree came from (API, scenario file, test builder).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar


class QuotaTreeError(ValueError):
    """The tree is malformed; names the entry and the reason."""

    def __init__(self, entry: str, reason: str) -> None:
        super().__init__(f"{entry}: {reason}")
        self.entry = entry
        self.reason = reason


@dataclass(frozen=True)
class Department:
    name: str
    deserved_milli: int = 0  # guaranteed GPUs of the department, in milli-GPUs
    over_quota_weight_milli: int | None = None  # surplus weight x1000; None = deserved_milli
    limit_milli: int | None = None  # hard cap on what the whole department holds
    priority: int = 0  # surplus tier: higher tiers get surplus first
    parent: str | None = None  # enclosing department, None = top level

    @property
    def weight_milli(self) -> int:
        return (
            self.deserved_milli
            if self.over_quota_weight_milli is None
            else (self.over_quota_weight_milli)
        )


@dataclass(frozen=True)
class Project:
    name: str
    deserved_milli: int = 0  # guaranteed GPUs, in milli-GPUs
    over_quota_weight_milli: int | None = None  # surplus weight x1000; None = deserved_milli
    limit_milli: int | None = None  # hard cap on what the project holds; never exceeded
    priority: int = 0  # surplus tier
    department: str | None = None  # parent department, None = top level
    node_pools: tuple[str, ...] = ()  # pools its workloads may run in; () = any
    max_interactive_seconds: int | None = None  # run-time limit of interactive workloads
    max_training_seconds: int | None = None  # run-time limit of train workloads

    @property
    def weight_milli(self) -> int:
        return (
            self.deserved_milli
            if self.over_quota_weight_milli is None
            else (self.over_quota_weight_milli)
        )

    @property
    def parent(self) -> str | None:
        return self.department


@dataclass(frozen=True)
class QuotaTree:
    """A validated tree. Build it with `QuotaTree.build`, which checks its shape."""

    departments: Mapping[str, Department] = field(default_factory=dict)
    projects: Mapping[str, Project] = field(default_factory=dict)
    children: Mapping[str | None, tuple[str, ...]] = field(default_factory=dict)

    @staticmethod
    def build(projects: Iterable[Project], departments: Iterable[Department] = ()) -> QuotaTree:
        depts = _unique(departments, "department")
        projs = _unique(projects, "project")
        for name in depts.keys() & projs.keys():
            raise QuotaTreeError(name, "a department and a project share this name")
        for d in depts.values():
            if d.parent is not None and d.parent not in depts:
                raise QuotaTreeError(d.name, f"parent department {d.parent!r} does not exist")
        for p in projs.values():
            if p.department is not None and p.department not in depts:
                raise QuotaTreeError(p.name, f"department {p.department!r} does not exist")
        _check_acyclic(depts)
        children: dict[str | None, list[str]] = {}
        nodes: list[Department | Project] = [*depts.values(), *projs.values()]
        for node in nodes:
            children.setdefault(node.parent, []).append(node.name)
        return QuotaTree(
            departments=depts,
            projects=projs,
            children={k: tuple(sorted(v)) for k, v in children.items()},
        )

    def node(self, name: str) -> Department | Project:
        return self.projects[name] if name in self.projects else self.departments[name]

    def kids(self, name: str | None) -> tuple[str, ...]:
        return self.children.get(name, ())

    def ancestors(self, project: str) -> tuple[str, ...]:
        """Departments above a project, nearest first."""
        out: list[str] = []
        parent = self.projects[project].department
        while parent is not None:
            out.append(parent)
            parent = self.departments[parent].parent
        return tuple(out)


_Node = TypeVar("_Node", Department, Project)


def _unique(items: Iterable[_Node], kind: str) -> dict[str, _Node]:
    out: dict[str, _Node] = {}
    for item in items:
        if item.name in out:
            raise QuotaTreeError(item.name, f"{kind} name is used twice")
        out[item.name] = item
    return out


def _check_acyclic(depts: Mapping[str, Department]) -> None:
    for start in sorted(depts):
        seen = {start}
        parent = depts[start].parent
        while parent is not None:
            if parent in seen:
                raise QuotaTreeError(start, f"department cycle through {parent!r}")
            seen.add(parent)
            parent = depts[parent].parent
