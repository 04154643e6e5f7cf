"""The order in which pending workloads are tried.

Owns DESIGN §1.2 step 3's order: the project furthest below its fair share first
(allocated / fair share, re-ranked after every attempt because each placement moves its
project), then the larger fair share, then priority, then submit time, then name. Inside
a project, workloads go by priority, submit time and name. Every comparison ends in a
name, so the order never depends on input order. It must not place or gate anything.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping

from fairshare.model import Workload

Rank = tuple[int, int, int, int, int, str, str]

# held/fair is ranked as floor(held * 2**64 / fair): exact for ordering, because two
# different ratios of milli-GPU amounts below 10**7 differ by more than 10**-14, far above
# the 2**-64 resolution, and integers compare much faster than Fractions in the heap.
_SCALE = 1 << 64


def within_project_key(w: Workload) -> tuple[int, int, str]:
    return (-w.priority, w.submit_time, w.name)


def victim_key(priority: int, started_at: int, name: str) -> tuple[int, int, str]:
    """Victims go lowest priority first, then most recently started."""
    return (priority, -started_at, name)


class FairQueue:
    """Serves pending workloads project by project, neediest project first.

    `allocated` is read at each step, so placements made between two steps re-rank the
    project that just moved.
    """

    def __init__(
        self,
        workloads: Iterable[Workload],
        fair_share: Mapping[str, int],
        allocated: Callable[[str], int],
    ) -> None:
        self._fair = fair_share
        self._allocated = allocated
        self._queues: dict[str, deque[Workload]] = {}
        for w in sorted(workloads, key=within_project_key):
            self._queues.setdefault(w.project, deque()).append(w)
        self._heap: list[tuple[Rank, str]] = [(self._rank(p), p) for p in self._queues]
        heapq.heapify(self._heap)
        self._last: str | None = None

    def _rank(self, project: str) -> Rank:
        fair = self._fair.get(project, 0)
        held = self._allocated(project)
        # A project with no fair share can only borrow: it ranks after every other one.
        ratio = held * _SCALE // fair if fair > 0 else held * _SCALE
        head = self._queues[project][0]
        # At the same ratio the larger fair share goes first: the smaller would start only
        # to be reclaimed by it next cycle (DESIGN §1.2 step 3).
        return (int(fair <= 0), ratio, -fair, -head.priority, head.submit_time, head.name, project)

    def __iter__(self) -> Iterator[Workload]:
        while True:
            if self._last is not None and self._queues[self._last]:
                heapq.heappush(self._heap, (self._rank(self._last), self._last))
            self._last = None
            if not self._heap:
                return
            _, project = heapq.heappop(self._heap)
            self._last = project
            yield self._queues[project].popleft()
