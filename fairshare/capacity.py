"""What a cycle divides: the capacity, each project's demand, and the room of node pools.

Owns the inputs of DESIGN §1.1 read off the cycle's ledger: the GPUs to divide (schedulable
nodes, plus what pods still hold on cordoned ones, less what other schedulers hold), each
project's demand (held plus requested, never more than its pools hold), and per set of node
pools the GPUs they hold and the projects confined to exactly that set. It must not divide
(division.py does) nor decide anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fairshare.ledger import WHOLE, Ledger
from fairshare.model import ForeignUsage, Workload
from fairshare.quota_tree import QuotaTree

Confined = dict[tuple[str, ...], tuple[int, tuple[str, ...]]]


def capacity(ledger: Ledger, foreign: Iterable[ForeignUsage]) -> int:
    """GPUs to divide: schedulable nodes, plus what pods still hold on cordoned ones."""
    total = 0
    for n in ledger.nodes.values():
        held = sum(WHOLE - free for free in ledger.gpu_free[n.name])
        total += held if n.unschedulable else n.gpu_count * WHOLE
    others = sum(
        u.gpus * WHOLE
        for u in foreign
        if u.node in ledger.nodes and not ledger.nodes[u.node].unschedulable
    )
    return max(total - others, 0)


def pool_room(ledger: Ledger, pools: Iterable[str]) -> int:
    wanted = set(pools)
    return sum(
        n.gpu_count * WHOLE
        for n in ledger.nodes.values()
        if n.pool in wanted and not n.unschedulable
    )


def confined(ledger: Ledger, tree: QuotaTree) -> Confined:
    """Per set of node pools: the GPUs they hold, and the projects confined to them."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, project in sorted(tree.projects.items()):
        if project.node_pools:
            groups.setdefault(tuple(sorted(set(project.node_pools))), []).append(name)
    return {pools: (pool_room(ledger, pools), tuple(m)) for pools, m in groups.items()}


def demand(
    ledger: Ledger, tree: QuotaTree, valid: Sequence[Workload], need: Mapping[str, int]
) -> dict[str, int]:
    """Held plus requested per project (`need`: workload -> milli); a project confined to
    some pools never demands more than they hold, so others' shares are not shrunk for
    GPUs it could never use."""
    out = {p: ledger.allocated(p) for p in tree.projects}
    for w in valid:
        out[w.project] += need[w.name]
    for name, project in tree.projects.items():
        if project.node_pools:
            out[name] = min(out[name], pool_room(ledger, project.node_pools))
    return out
