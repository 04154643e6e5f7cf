"""A tiny deterministic event heap and the virtual clock it drives.

Owns simulated time: events ordered by (time, priority, sequence), so events at the same
time come out by kind and then in the order they were scheduled (SimPy's habit), and a
clock that implements the loop's `Clock` port in whole seconds and only moves forward. It
must not know what an event means (the runner does) nor read the wall clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class VirtualClock:
    """Implements scheduler.ports.Clock: seconds since the start of the run."""

    def __init__(self, start: int = 0) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def advance_to(self, at: int) -> None:
        if at < self._now:
            raise ValueError(f"time runs forward only: now {self._now}, asked {at}")
        self._now = at


@dataclass(order=True, frozen=True)
class _Entry(Generic[T]):
    at: int
    priority: int
    sequence: int
    payload: T = field(compare=False)


class EventQueue(Generic[T]):
    """Events by (time, priority, sequence): ties are broken the same way every run."""

    def __init__(self) -> None:
        self._heap: list[_Entry[T]] = []
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, at: int, priority: int, payload: T) -> None:
        heapq.heappush(self._heap, _Entry(at, priority, self._sequence, payload))
        self._sequence += 1

    def peek_time(self) -> int | None:
        return self._heap[0].at if self._heap else None

    def pop_due(self, at: int) -> list[T]:
        """Every event scheduled at exactly `at`, in (priority, sequence) order."""
        if self._heap and self._heap[0].at < at:
            raise ValueError(f"events before {at} are still queued: pop them first")
        out: list[T] = []
        while self._heap and self._heap[0].at == at:
            out.append(heapq.heappop(self._heap).payload)
        return out
