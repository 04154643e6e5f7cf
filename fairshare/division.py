"""Fair-share division: how many milli-GPUs each project deserves this cycle.

Owns DESIGN §1.1: the deserved tier (scaled down in proportion to deserved quota when
it exceeds capacity), the surplus tiers (water-filled in proportion to over-quota weight,
highest priority first, weight-0 last and equally), level by level down the quota tree.
Arithmetic is exact (Fractions) and rounded once per water-fill by largest remainder,
ties by name, so the result is deterministic and independent of input order. It must not
know about nodes, pods or placement: demand and capacity arrive as integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from fairshare.quota_tree import QuotaTree


@dataclass(frozen=True)
class Claim:
    """One sibling's stake at one level of the tree (all amounts in milli-GPUs)."""

    name: str
    deserved: int
    weight: int  # over-quota weight x1000
    demand: int  # already capped by the sibling's limit
    priority: int = 0


def waterfill(capacity: int, weights: Mapping[str, int], caps: Mapping[str, int]) -> dict[str, int]:
    """Split `capacity` in proportion to `weights`, no one above its cap; integer result.

    Hands out exactly min(capacity, sum of caps). Items with weight 0 get nothing.
    """
    exact = _waterfill_exact(capacity, weights, caps)
    return _round_largest_remainder(exact, caps)


def _waterfill_exact(
    capacity: int, weights: Mapping[str, int], caps: Mapping[str, int]
) -> dict[str, Fraction]:
    active = sorted(n for n in weights if weights[n] > 0 and caps[n] > 0)
    out: dict[str, Fraction] = {n: Fraction(0) for n in weights}
    remaining = Fraction(max(capacity, 0))
    while active and remaining > 0:
        total_weight = sum(weights[n] for n in active)
        # Items whose cap is below their proportional portion are filled to the cap first;
        # the rest then share what those leave, which is the classic water-filling fixpoint.
        saturated = [n for n in active if caps[n] * total_weight <= remaining * weights[n]]
        if not saturated:
            for n in active:
                out[n] = remaining * weights[n] / total_weight
            break
        for n in saturated:
            out[n] = Fraction(caps[n])
            remaining -= caps[n]
        active = [n for n in active if n not in set(saturated)]
    return out


def _round_largest_remainder(
    exact: Mapping[str, Fraction], caps: Mapping[str, int]
) -> dict[str, int]:
    floors = {n: int(v) for n, v in exact.items()}  # values are non-negative: int() floors
    total = sum(exact.values(), Fraction(0))
    leftover = int(total) - sum(floors.values())  # total is integral by construction
    by_remainder = sorted(exact, key=lambda n: (-(exact[n] - floors[n]), n))
    for n in by_remainder[:leftover]:
        if floors[n] < caps[n]:
            floors[n] += 1
    return floors


def divide(capacity: int, claims: Iterable[Claim]) -> dict[str, int]:
    """One level of DESIGN §1.1 over siblings: returns each sibling's fair share."""
    by_name = {c.name: c for c in claims}
    base = {n: min(c.deserved, c.demand) for n, c in by_name.items()}
    if sum(base.values()) > capacity:
        return waterfill(capacity, {n: c.deserved for n, c in by_name.items()}, base)
    share = dict(base)
    left = capacity - sum(base.values())
    for tier in sorted({c.priority for c in by_name.values()}, reverse=True):
        members = [c for c in by_name.values() if c.priority == tier and c.weight > 0]
        left -= _top_up(share, members, left, {c.name: c.weight for c in members})
    # Weight-0 siblings may use what no weighted sibling wants, split equally.
    unweighted = [c for c in by_name.values() if c.weight == 0]
    _top_up(share, unweighted, left, {c.name: 1 for c in unweighted})
    return share


def _top_up(
    share: dict[str, int], members: list[Claim], left: int, weights: Mapping[str, int]
) -> int:
    if left <= 0 or not members:
        return 0
    caps = {c.name: c.demand - share[c.name] for c in members}
    extra = waterfill(left, weights, caps)
    for n, amount in extra.items():
        share[n] += amount
    return sum(extra.values())


def divide_tree(tree: QuotaTree, capacity: int, demand: Mapping[str, int]) -> dict[str, int]:
    """Fair share of every department and project, level by level from the root.

    `demand` is per project in milli-GPUs (uncapped); limits are applied here.
    """
    capped = _capped_demand(tree, demand)
    shares: dict[str, int] = {}
    _divide_level(tree, None, capacity, capped, shares)
    return shares


def _capped_demand(tree: QuotaTree, demand: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}

    def visit(name: str) -> int:
        node = tree.node(name)
        raw = (
            demand.get(name, 0) if name in tree.projects else sum(visit(k) for k in tree.kids(name))
        )
        out[name] = raw if node.limit_milli is None else min(raw, node.limit_milli)
        return out[name]

    for top in tree.kids(None):
        visit(top)
    return out


def _divide_level(
    tree: QuotaTree,
    parent: str | None,
    capacity: int,
    demand: Mapping[str, int],
    shares: dict[str, int],
) -> None:
    kids = tree.kids(parent)
    claims = []
    for name in kids:
        node = tree.node(name)
        claims.append(
            Claim(name, node.deserved_milli, node.weight_milli, demand[name], node.priority)
        )
    level = divide(capacity, claims)
    shares.update(level)
    for name in kids:
        if name in tree.departments:
            _divide_level(tree, name, level[name], demand, shares)


def divide_pools(
    tree: QuotaTree,
    capacity: int,
    demand: Mapping[str, int],
    confined: Mapping[tuple[str, ...], tuple[int, tuple[str, ...]]],
) -> dict[str, int]:
    """DESIGN §1.1 per node pool: projects confined to some pools share only their room.

    `confined` maps each set of pools to (GPUs those pools hold, the projects confined to
    exactly that set). The tree is divided over the whole capacity first; where the
    projects confined to a set of pools would get more than those pools hold, that room is
    divided among them alone (same rules, flat), and what they give up is divided again
    over everyone else, so that the shares of all pools add up per project.
    """
    shares = divide_tree(tree, capacity, demand)
    fixed: dict[str, int] = {}
    for pools in sorted(confined):
        room, members = confined[pools]
        if sum(shares.get(p, 0) for p in members) <= room:
            continue
        claims = [
            Claim(p, tree.projects[p].deserved_milli, tree.projects[p].weight_milli,
                  min(demand.get(p, 0), shares.get(p, 0)), tree.projects[p].priority)
            for p in members
        ]  # fmt: skip
        fixed.update(divide(room, claims))
    if not fixed:
        return shares
    return divide_tree(tree, capacity, {**demand, **fixed})
