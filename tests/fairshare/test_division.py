"""Fair-share division (DESIGN §1.1): worked cases, then the invariants as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairshare.division import Claim, divide, divide_tree, waterfill
from tests.builders import department, project, tree

G = 1000  # one GPU in milli


def claim(
    name: str, deserved: float, demand: float, weight: float | None = None, priority: int = 0
) -> Claim:
    d = int(deserved * G)
    return Claim(name, d, d if weight is None else int(weight * G), int(demand * G), priority)


CASES = [
    pytest.param(
        16,
        [claim("a", 4, 4), claim("b", 2, 4), claim("c", 2, 4), claim("d", 8, 4)],
        {"a": 4, "b": 4, "c": 4, "d": 4},
        id="run:ai validation part 1: d leaves 4 idle, b and c borrow 2 each",
    ),
    pytest.param(
        16,
        [claim("a", 4, 8), claim("b", 2, 6), claim("c", 2, 6), claim("d", 8, 0)],
        {"a": 8, "b": 4, "c": 4, "d": 0},
        id="run:ai validation part 3: 8 surplus GPUs split 4:2:2 in proportion to quota",
    ),
    pytest.param(
        8,
        [claim("a", 8, 8), claim("b", 8, 8)],
        {"a": 4, "b": 4},
        id="deserved above capacity is scaled down in proportion to deserved",
    ),
    pytest.param(
        10,
        [claim("a", 6, 2), claim("b", 6, 10)],
        {"a": 2, "b": 8},
        id="a project never gets more than it asks for",
    ),
    pytest.param(
        10,
        [claim("a", 2, 10, weight=3), claim("b", 2, 10, weight=1)],
        {"a": 6.5, "b": 3.5},
        id="surplus follows over-quota weight, not deserved",
    ),
    pytest.param(
        10,
        [claim("a", 2, 10, priority=1), claim("b", 2, 10)],
        {"a": 8, "b": 2},
        id="a higher surplus tier is served first",
    ),
    pytest.param(
        10,
        [claim("a", 2, 4), claim("z", 0, 10, weight=0)],
        {"a": 4, "z": 6},
        id="a weight-0 project gets only what no weighted project wants",
    ),
    pytest.param(
        10,
        [claim("y", 0, 10, weight=0), claim("z", 0, 10, weight=0)],
        {"y": 5, "z": 5},
        id="weight-0 projects share what is left equally",
    ),
    pytest.param(
        1,
        [claim("a", 1, 1), claim("b", 1, 1), claim("c", 1, 1)],
        {"a": 0.334, "b": 0.333, "c": 0.333},
        id="rounding to milli-GPUs gives the leftover milli by name when remainders tie",
    ),
]


@pytest.mark.parametrize(("capacity", "claims", "expected"), CASES)
def test_divide(capacity: int, claims: list[Claim], expected: dict[str, float]) -> None:
    got = divide(capacity * G, claims)
    assert got == {k: round(v * G) for k, v in expected.items()}


def test_departments_are_divided_level_by_level() -> None:
    t = tree(
        project("a1", 2, department="ml"),
        project("a2", 2, department="ml"),
        project("b", 4),
        departments=[department("ml", 4)],
    )
    shares = divide_tree(t, 12 * G, {"a1": 10 * G, "a2": 0, "b": 10 * G})
    # ml and b split 12 as 4+2 and 4+2 (surplus by weight = deserved); inside ml, a1 takes all.
    assert shares == {"ml": 6 * G, "b": 6 * G, "a1": 6 * G, "a2": 0}


def test_limits_cap_demand_at_every_level() -> None:
    t = tree(
        project("a", 1, limit=2, department="ml"),
        project("b", 1),
        departments=[department("ml", 1, limit=1.5)],
    )
    shares = divide_tree(t, 10 * G, {"a": 8 * G, "b": 8 * G})
    assert shares["a"] == 1500 and shares["b"] == 8 * G


# ------------------------------------------------------------------- properties

names = st.sampled_from([f"p{i}" for i in range(8)])
claims_st = st.lists(
    st.builds(
        Claim,
        name=names,
        deserved=st.integers(0, 8000),
        weight=st.integers(0, 8000),
        demand=st.integers(0, 12000),
        priority=st.integers(0, 2),
    ),
    unique_by=lambda c: c.name,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(0, 40000), claims=claims_st)
def test_shares_never_exceed_capacity_or_demand(capacity: int, claims: list[Claim]) -> None:
    shares = divide(capacity, claims)
    assert sum(shares.values()) <= capacity
    assert all(0 <= shares[c.name] <= c.demand for c in claims)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(0, 40000), claims=claims_st)
def test_deserved_is_guaranteed_when_quotas_fit(capacity: int, claims: list[Claim]) -> None:
    if sum(c.deserved for c in claims) > capacity:
        return
    shares = divide(capacity, claims)
    assert all(shares[c.name] >= min(c.deserved, c.demand) for c in claims)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(0, 40000), claims=claims_st)
def test_idle_capacity_is_handed_out_while_anyone_wants_it(
    capacity: int, claims: list[Claim]
) -> None:
    shares = divide(capacity, claims)
    assert sum(shares.values()) == min(capacity, sum(c.demand for c in claims))


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(0, 40000), claims=claims_st, data=st.data())
def test_permuting_projects_changes_nothing(
    capacity: int, claims: list[Claim], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(claims))
    assert divide(capacity, claims) == divide(capacity, shuffled)


@settings(max_examples=500, deadline=None)
@given(
    capacity=st.integers(0, 40000),
    claims=claims_st.filter(bool),
    data=st.data(),
    extra=st.integers(1, 8000),
)
def test_raising_a_weight_never_lowers_that_share(
    capacity: int, claims: list[Claim], data: st.DataObject, extra: int
) -> None:
    i = data.draw(st.integers(0, len(claims) - 1))
    raised = list(claims)
    c = claims[i]
    raised[i] = Claim(c.name, c.deserved, c.weight + extra, c.demand, c.priority)
    assert divide(capacity, raised)[c.name] >= divide(capacity, claims)[c.name]


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(0, 20000),
    weights=st.dictionaries(names, st.integers(0, 5000), max_size=6),
    data=st.data(),
)
def test_waterfill_hands_out_exactly_what_fits(
    capacity: int, weights: dict[str, int], data: st.DataObject
) -> None:
    caps = {n: data.draw(st.integers(0, 9000)) for n in weights}
    out = waterfill(capacity, weights, caps)
    weighted = sum(caps[n] for n in weights if weights[n] > 0)
    assert sum(out.values()) == min(capacity, weighted)
    assert all(out[n] <= caps[n] for n in weights)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), capacity=st.integers(0, 40000))
def test_a_tree_divides_within_every_parent(data: st.DataObject, capacity: int) -> None:
    depts = [
        department(
            f"d{i}", data.draw(st.integers(0, 8)), limit=data.draw(st.none() | st.integers(0, 10))
        )
        for i in range(2)
    ]
    projects = [
        project(
            f"p{i}",
            data.draw(st.integers(0, 8)),
            limit=data.draw(st.none() | st.integers(8, 12)),
            department=data.draw(st.sampled_from([None, "d0", "d1"])),
        )
        for i in range(5)
    ]
    t = tree(*projects, departments=depts)
    demand = {p.name: data.draw(st.integers(0, 12000)) for p in projects}
    shares = divide_tree(t, capacity, demand)
    assert sum(shares[n] for n in t.kids(None)) <= capacity
    for d in depts:
        assert sum(shares[k] for k in t.kids(d.name)) <= shares[d.name]
        if d.limit_milli is not None:
            assert shares[d.name] <= d.limit_milli
    for p in projects:
        assert shares[p.name] <= demand[p.name]
        if p.limit_milli is not None:
            assert shares[p.name] <= p.limit_milli
