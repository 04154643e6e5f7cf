"""Which nodes a workload may run on, read exactly as the default scheduler reads a pod.

Owns the node filters that do not depend on free capacity: node pools, cordoned nodes,
taints against tolerations (NoSchedule and NoExecute; PreferNoSchedule never filters),
`nodeSelector`, and required node affinity (terms OR-ed, expressions AND-ed, operators In,
NotIn, Exists, DoesNotExist, Gt, Lt). Results are cached per distinct constraint shape,
because thousands of pending pods usually share a handful of shapes. It must not look at
free GPUs, CPU or memory (the ledger and placement do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fairshare.model import (
    Constraints,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Taint,
    Toleration,
)

_FILTERING_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    for t in tolerations:
        if t.effect and t.effect != taint.effect:
            continue
        if t.operator == "Exists" and (not t.key or t.key == taint.key):
            return True
        if t.operator in ("Equal", "") and t.key == taint.key and t.value == taint.value:
            return True
    return False


def _requirement_holds(req: NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    present = req.key in labels
    value = labels.get(req.key)
    match req.operator:
        case "In":
            return present and value in req.values
        case "NotIn":
            return not present or value not in req.values
        case "Exists":
            return present
        case "DoesNotExist":
            return not present
        case "Gt" | "Lt":
            return present and _compare_int(str(value), req.values, req.operator)
    return False


def _compare_int(value: str, values: tuple[str, ...], operator: str) -> bool:
    try:
        left, right = int(value), int(values[0])
    except (ValueError, IndexError):
        return False
    return left > right if operator == "Gt" else left < right


def _term_holds(term: NodeSelectorTerm, labels: Mapping[str, str]) -> bool:
    return all(_requirement_holds(r, labels) for r in term.match_expressions)


def node_admits(node: Node, constraints: Constraints, pools: Sequence[str]) -> str | None:
    """None if the node may run the workload, else why not (for pending reasons)."""
    if node.unschedulable:
        return "cordoned"
    if pools and node.pool not in pools:
        return f"in pool {node.pool!r}"
    labels = node.labels
    for key, want in constraints.node_selector.items():
        if labels.get(key) != want:
            return f"nodeSelector {key}={want}"
    if constraints.required_terms and not any(
        _term_holds(t, labels) for t in constraints.required_terms
    ):
        return "required node affinity"
    for taint in node.taints:
        if taint.effect in _FILTERING_EFFECTS and not tolerates(constraints.tolerations, taint):
            return f"taint {taint.key}={taint.value}:{taint.effect}"
    return None


@dataclass
class EligibilityCache:
    """Eligible node names per (constraints, pools); None means every node qualifies."""

    nodes: Sequence[Node]
    _cache: dict[tuple[object, ...], frozenset[str] | None] = field(default_factory=dict)
    _sizes: dict[tuple[object, ...], tuple[int, int]] = field(default_factory=dict)

    def eligible(self, constraints: Constraints, pools: Sequence[str]) -> frozenset[str] | None:
        key = (constraints.key(), tuple(pools))
        if key not in self._cache:
            names = frozenset(
                n.name for n in self.nodes if node_admits(n, constraints, pools) is None
            )
            self._cache[key] = None if len(names) == len(self.nodes) else names
        return self._cache[key]

    def gpu_sizes(self, constraints: Constraints, pools: Sequence[str]) -> tuple[int, int]:
        """(largest node, all nodes) GPU counts among the schedulable eligible nodes."""
        key = ("sizes", constraints.key(), tuple(pools))
        if key not in self._sizes:
            eligible = self.eligible(constraints, pools)
            sizes = [
                n.gpu_count
                for n in self.nodes
                if not n.unschedulable and (eligible is None or n.name in eligible)
            ]
            self._sizes[key] = (max(sizes, default=0), sum(sizes))
        return self._sizes[key]

    def largest_gpu_memory(self, constraints: Constraints, pools: Sequence[str]) -> int:
        """The most memory one GPU has among the eligible nodes (MiB; 0 if none)."""
        key = ("memory", constraints.key(), tuple(pools))
        if key not in self._sizes:
            eligible = self.eligible(constraints, pools)
            memory = max(
                (n.gpu_memory_mib for n in self.nodes if eligible is None or n.name in eligible),
                default=0,
            )
            self._sizes[key] = (memory, 0)
        return self._sizes[key][0]

    def why_not(self, constraints: Constraints, pools: Sequence[str]) -> str:
        """A summary of what excludes the nodes, most common cause first."""
        causes: dict[str, int] = {}
        for n in self.nodes:
            cause = node_admits(n, constraints, pools)
            if cause is not None:
                causes[cause] = causes.get(cause, 0) + 1
        ranked = sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))
        return "; ".join(f"{count} node(s) excluded by {cause}" for cause, count in ranked[:3])
