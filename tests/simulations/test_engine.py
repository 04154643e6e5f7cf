"""The event heap orders by (time, priority, sequence); the virtual clock only moves forward."""

from __future__ import annotations

import pytest

from simulations.engine import EventQueue, VirtualClock


def test_events_come_out_by_time_then_priority_then_insertion_order() -> None:
    q: EventQueue[str] = EventQueue()
    for at, priority, name in [(5, 1, "late"), (0, 2, "submit-x"), (0, 0, "finish"),
                               (0, 2, "submit-y"), (0, 1, "delete")]:  # fmt: skip
        q.push(at, priority, name)
    assert q.peek_time() == 0
    assert q.pop_due(0) == ["finish", "delete", "submit-x", "submit-y"]
    assert q.peek_time() == 5
    assert q.pop_due(5) == ["late"]
    assert q.peek_time() is None
    assert len(q) == 0


def test_the_same_pushes_give_the_same_order_every_time() -> None:
    def drain() -> list[int]:
        q: EventQueue[int] = EventQueue()
        for i in range(200):
            q.push((i * 7919) % 13, (i * 31) % 3, i)
        out: list[int] = []
        while (at := q.peek_time()) is not None:
            out.extend(q.pop_due(at))
        return out

    assert drain() == drain()


def test_popping_a_later_time_with_earlier_events_queued_is_an_error() -> None:
    q: EventQueue[str] = EventQueue()
    q.push(1, 0, "a")
    with pytest.raises(ValueError, match="events before 2"):
        q.pop_due(2)


def test_the_clock_reads_what_it_was_advanced_to_and_never_goes_back() -> None:
    clock = VirtualClock()
    assert clock.now() == 0
    clock.advance_to(600)
    clock.advance_to(600)
    assert clock.now() == 600
    with pytest.raises(ValueError, match="forward only"):
        clock.advance_to(599)
