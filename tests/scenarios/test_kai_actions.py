"""KAI-Scheduler's table-driven action tests, replayed through Quotient's decide.

Each case is one KAI test (its name is the id), translated by `kai_tables` into a snapshot and
decided once, as KAI runs one action on one session; KAI's integration tests (every action,
round after round) are run as cycles until one binds and evicts nothing, and the settled state
is compared. A case agrees with KAI's expected outcome
per job, or says in one line (`differs:`) why Quotient deliberately decides otherwise, or waits
as a strict xfail for the issue-7 fix it names, or says why it is not ported.
"""

from __future__ import annotations

import pytest

from fairshare.decide import decide
from tests.scenarios.kai_checks import mismatches, settle_as_kai, settled_mismatches
from tests.scenarios.kai_tables import KaiCase, NotPortable, build, load_all


def _param(case: KaiCase) -> object:
    marks = []
    if case.not_ported:
        marks.append(pytest.mark.skip(reason=f"not ported: {case.not_ported}"))
    elif case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return pytest.param(case, id=f"{case.file}: {case.id}", marks=marks)


CASES = [_param(c) for c in load_all()]


def _mismatches(case: KaiCase) -> list[str]:
    snap = build(case)
    if case.settled:
        return settled_mismatches(case, settle_as_kai(case, snap))
    return mismatches(case, snap, decide(snap, case.policy))


@pytest.mark.parametrize("case", CASES)
def test_kai_case(case: KaiCase) -> None:
    assert _mismatches(case) == []


DIFFERENCES = [
    pytest.param(c, id=f"{c.file}: {c.id}")
    for c in load_all()
    if c.differs and not c.not_ported and not c.xfail
]


@pytest.mark.parametrize("case", DIFFERENCES)
def test_a_stated_difference_is_real(case: KaiCase) -> None:
    """Held to KAI's own outcomes, a case marked `differs` must fail: a stale note fails here."""
    assert _mismatches(case.as_kai_expects()) != []


def test_every_unported_case_says_why() -> None:
    """A case the model cannot express must carry `not_ported`, never be silently dropped."""
    for case in load_all():
        if case.not_ported:
            continue
        try:
            build(case)
        except NotPortable as e:
            pytest.fail(f"{case.file}: {case.id}: {e}")
