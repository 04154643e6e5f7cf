"""Borrowing: when a project may take idle GPUs beyond its fair share, and when not.

Owns the one rule that keeps borrowing from undoing reclaims (reclaim.py gives the whole
convergence argument): a borrow is refused, and a borrow made earlier in the cycle is
taken back before the plan is emitted, while another project has a waiting workload that
could at once reclaim the room (that project's excess after placing it would be below the
borrower's). Such a borrow would only start a workload to kill it in the next cycle, and is
what lets reclaim, borrow and preempt chase each other round. It tracks the needs of the
workloads still waiting, per project. It must not place or evict: decide.py does, and asks
here first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from fairshare.model import PodAssignment, Workload


@dataclass(frozen=True)
class Borrow:
    workload: Workload
    need: int
    placed: tuple[PodAssignment, ...]


@dataclass
class Borrowing:
    excess: Callable[[str], int]
    waiting: dict[str, SortedList] = field(default_factory=dict)  # project -> needs
    priorities: dict[str, SortedList] = field(default_factory=dict)  # project -> priorities
    made: list[Borrow] = field(default_factory=list)

    def wait(self, w: Workload, need: int) -> None:
        self.waiting.setdefault(w.project, SortedList()).add(need)
        self.priorities.setdefault(w.project, SortedList()).add(w.priority)

    def leave(self, w: Workload, need: int) -> None:
        self.waiting[w.project].discard(need)
        self.priorities[w.project].discard(w.priority)

    def outranked(self, project: str, priority: int) -> bool:
        """Does a waiting workload of `project` have a higher priority than `priority`?"""
        tops = self.priorities.get(project)
        return tops is not None and len(tops) > 0 and int(tops[-1]) > priority

    def rival(self, project: str, excess_after: int) -> str | None:
        """A project whose smallest waiting workload would end below `excess_after`."""
        if excess_after <= 0:
            return None  # within the fair share: not a borrow
        for other in sorted(self.waiting):
            needs = self.waiting[other]
            if other != project and needs and self.excess(other) + needs[0] < excess_after:
                return other
        return None

    def stable(self, w: Workload, need: int) -> bool:
        return self.rival(w.project, self.excess(w.project) + need) is None

    def record(self, w: Workload, need: int, placed: tuple[PodAssignment, ...]) -> None:
        if self.excess(w.project) > 0:
            self.made.append(Borrow(w, need, placed))

    def undone(self) -> Borrow | None:
        """The latest borrow of the cycle that a reclaim would now undo, removed from the
        list; None when every borrow left is stable."""
        for i in range(len(self.made) - 1, -1, -1):
            b = self.made[i]
            if self.rival(b.workload.project, self.excess(b.workload.project)) is not None:
                return self.made.pop(i)
        return None
