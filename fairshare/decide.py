"""One scheduling decision: snapshot in, plan out (DESIGN §1.2).

Owns the order of a cycle's steps: hold what already runs, enforce run-time limits,
screen pending workloads (invalid, unknown project, incomplete gang, no node could ever
run it), divide fair shares, allocate within fair share and then borrow idle GPUs, reclaim
across projects and preempt inside one, and give every workload left waiting one reason.
It is pure and deterministic: the same snapshot gives the same plan whatever the order of
its inputs. It must not do I/O; the executor acts on the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fairshare import capacity as room
from fairshare import gates, reasons
from fairshare.borrowing import Borrow, Borrowing
from fairshare.division import divide_pools
from fairshare.eligibility import EligibilityCache
from fairshare.fragmentation import ShapeMix
from fairshare.ledger import Holder, Ledger
from fairshare.model import (
    Binding,
    CyclePlan,
    Eviction,
    PendingReason,
    Policy,
    ReasonCode,
    RunningWorkload,
    Snapshot,
    Workload,
    run_time_limit,
)
from fairshare.ordering import FairQueue
from fairshare.placement import Placer
from fairshare.preemption import Found, Placement, VictimSearch, holder_of
from fairshare.reclaim import Rules
from fairshare.resources import format_gpus as g
from fairshare.screening import Screen
from fairshare.summary import summarize
from fairshare.victims import VictimIndex


def decide(snapshot: Snapshot, policy: Policy | None = None) -> CyclePlan:
    """The plan for one cycle on this snapshot."""
    return _Cycle(snapshot, policy or Policy()).run()


class _Cycle:
    def __init__(self, snapshot: Snapshot, policy: Policy) -> None:
        self.snap = snapshot
        self.policy = policy
        self.tree = snapshot.quota
        self.ledger = Ledger(sorted(snapshot.nodes, key=lambda n: n.name), self.tree)
        self.placer = Placer(self.ledger, policy.placement)
        self.search = VictimSearch(self.ledger, self.placer)
        self.screen = Screen(self.tree, EligibilityCache(list(self.ledger.nodes.values())))
        self.running = {r.workload.name: r for r in snapshot.running}
        self.project_of = {w.name: w.project for w in snapshot.pending}
        self.fair: dict[str, int] = {}
        self.demand: dict[str, int] = {}
        self.bindings: list[Binding] = []
        self.evictions: dict[str, Eviction] = {}
        self.nominated: dict[str, tuple[str, Found]] = {}  # workload -> (project, found)
        self.reasons: dict[str, PendingReason] = {}
        self.kept: dict[str, tuple[str, ...]] = {}  # nominations still waiting on victims
        self.rules = Rules(
            self.ledger, self.placer, self.tree, self.fair, self.search, policy, self._eligible
        )
        self.borrowing = Borrowing(self.rules.excess)
        self._idle_by_eligible: dict[frozenset[str] | None, int] = {}
        # Per workload object (kept alive, so its id is not reused): both are read many
        # times a cycle and depend only on the workload and the cycle's nodes and tree.
        self._needs: dict[int, tuple[Workload, int]] = {}
        self._where: dict[int, tuple[Workload, frozenset[str] | None]] = {}
        self.rules.outranked = self.borrowing.outranked
        self.rules.contested = lambda p: self.borrowing.rival(p, self.rules.excess(p)) is not None

    # -------------------------------------------------------------------- the cycle

    def run(self) -> CyclePlan:
        self._hold_existing()
        self._enforce_run_time_limits()
        valid = self._screen(sorted(self.snap.pending, key=lambda w: w.name))
        capacity = self._divide(valid)
        for w in valid:
            self.borrowing.wait(w, self._need(w))
            for p in w.pods:
                if p.gpu.fraction_milli:
                    self.placer.fractions.add(p.gpu.fraction_milli)
        mix = ShapeMix.of([*(r.workload for r in self.snap.running), *valid])
        self.placer.use_mix(mix, pending_pods=sum(len(w.pods) for w in valid))
        unplaced, deferred, at_limit = self._allocate(valid)
        self.search.index = VictimIndex.build(self._victim_pool())
        for w in self._queue(at_limit):
            self._preempt(w)  # the gates are checked once its own victims are gone
        left = [w for w in self._queue(unplaced) if not self._make_room(w)]
        # Borrowing comes last, once every project within its share had its turn at the
        # idle GPUs and at reclaim, so a borrow never takes room a reclaim needs.
        for w in self._queue(deferred):
            late: list[Workload] = []
            if self._gated(w, late):
                for x in late:
                    self._preempt(x)
            elif not self._make_room(w):
                left.append(w)
        while (undone := self.borrowing.undone()) is not None:
            left.append(self._unborrow(undone))
        for w in left:
            self.reasons.setdefault(w.name, self._explain(w))
        return self._plan(capacity)

    def _divide(self, valid: Sequence[Workload]) -> int:
        """Fair shares for this cycle (DESIGN §1.1); returns the capacity divided."""
        capacity = room.capacity(self.ledger, self.snap.foreign)
        need = {w.name: self._need(w) for w in valid}
        self.demand = room.demand(self.ledger, self.tree, valid, need)
        confined = room.confined(self.ledger, self.tree)
        self.fair.update(divide_pools(self.tree, capacity, self.demand, confined))
        return capacity

    def _queue(self, workloads: Sequence[Workload]) -> FairQueue:
        return FairQueue(workloads, self.fair, self.ledger.allocated)

    def _hold_existing(self) -> None:
        for usage in sorted(self.snap.foreign, key=lambda u: u.node):
            self.ledger.hold_foreign(usage)
        for name in sorted(self.running):
            r = self.running[name]
            # A terminating pod still holds its room but no longer counts as its project's.
            holder = None if r.terminating else holder_of(r)
            for a in r.assignments:
                if a.node in self.ledger.nodes:
                    self.ledger.hold(a, holder)

    def _enforce_run_time_limits(self) -> None:
        for name in sorted(self.running):
            r = self.running[name]
            project = self.tree.projects.get(r.workload.project)
            if project is None or r.terminating:
                continue
            limit = run_time_limit(project, r.workload.type)
            if limit is not None and self.snap.now - r.started_at > limit:
                self._evict(
                    r,
                    ReasonCode.RUN_TIME_LIMIT_EXCEEDED,
                    f"ran {self.snap.now - r.started_at}s; {project.name} allows "
                    f"{r.workload.type} workloads {limit}s",
                )

    def _evict(self, r: RunningWorkload, code: ReasonCode, message: str) -> None:
        for a in r.assignments:
            if a.node in self.ledger.nodes:
                self.ledger.release(a, holder_of(r))
        self.evictions[r.workload.name] = Eviction(
            r.workload.name, r.workload.project, r.assignments, code, message
        )

    # ------------------------------------------------------------------- screening

    def _eligible(self, w: Workload) -> frozenset[str] | None:
        known = self._where.get(id(w))
        if known is None:
            known = self._where[id(w)] = (w, self.screen.eligible(w))
        return known[1]

    def _screen(self, pending: Sequence[Workload]) -> list[Workload]:
        valid: list[Workload] = []
        for w in pending:
            reason = self.screen.static_reason(w)
            if reason is None:
                valid.append(w)
            else:
                self.reasons[w.name] = reason
        return valid

    def _need(self, w: Workload) -> int:
        """The least w can take: a memory request sized on the largest GPU it may use."""
        known = self._needs.get(id(w))
        if known is None:
            known = self._needs[id(w)] = (w, self._least(w))
        return known[1]

    def _least(self, w: Workload) -> int:
        if not any(p.gpu.memory_mib for p in w.pods):
            return w.demand_milli(0)
        pools = self.screen.pools(w)
        return w.demand_milli(self.screen.nodes.largest_gpu_memory(w.constraints, pools))

    # ------------------------------------------------------------------ allocation

    def _allocate(
        self, valid: Sequence[Workload]
    ) -> tuple[list[Workload], list[Workload], list[Workload]]:
        """Place what fits within its project's fair share.

        Returns the workloads that did not fit, those that would borrow beyond their fair
        share, and those held back only by a limit (they may still preempt their own
        project's lower-priority work)."""
        deferred: list[Workload] = []
        unplaced: list[Workload] = []
        at_limit: list[Workload] = []
        for w in self._queue(self._place_nominated(valid)):
            if self._gated(w, at_limit):
                continue
            if self.ledger.allocated(w.project) + self._need(w) > self.fair.get(w.project, 0):
                deferred.append(w)
            elif not self._bind(w):
                unplaced.append(w)
        return unplaced, deferred, at_limit

    def _place_nominated(self, valid: Sequence[Workload]) -> list[Workload]:
        """Place what the last cycle made room for before anyone else may take that room.

        Returns the workloads left for the ordinary queue.
        """
        waiting_on_victims = any(r.terminating for r in self.running.values())
        rest = [w for w in valid if w.name not in self.snap.nominated]
        # Whole GPUs first: a fraction placed first could take a whole GPU made for another.
        nominated = sorted(
            (w for w in valid if w.name in self.snap.nominated),
            key=lambda w: (-sum(p.gpu.whole for p in w.pods), -self._need(w), w.name),
        )
        for w in nominated:
            nodes = self.snap.nominated[w.name]
            if self._gated(w, []) or self._bind(w, nodes):
                continue
            elif waiting_on_victims:
                self.kept[w.name] = nodes
                self.reasons[w.name] = reasons.waiting_for_victims(nodes)
            else:
                rest.append(w)
        return rest

    def _gated(self, w: Workload, at_limit: list[Workload]) -> bool:
        """Limits and the non-preemptible rule; sets the reason when they block."""
        reason = gates.blocked(
            self.ledger, self.tree, w.project, self._need(w), not w.is_preemptible
        )
        if reason is None:
            self.reasons.pop(w.name, None)
            return False
        self.reasons[w.name] = reason
        if reason.code == ReasonCode.OVER_LIMIT:
            at_limit.append(w)
        return True

    def _bind(self, w: Workload, prefer: Sequence[str] = ()) -> bool:
        placed = self._place(w, prefer)
        if placed is None:
            return False
        self._record(w, placed)
        return True

    def _record(self, w: Workload, placed: Placement) -> None:
        self.bindings.extend(Binding(w.name, w.project, a) for a in placed)
        self.borrowing.leave(w, self._need(w))
        for p in w.pods:
            if p.gpu.fraction_milli:
                self.placer.fractions.discard(p.gpu.fraction_milli)

    def _place(self, w: Workload, prefer: Sequence[str] = ()) -> Placement | None:
        """Hold w where it fits and its gates hold, a memory request sized on its GPU."""
        holder = Holder(w.project, not w.is_preemptible)
        eligible = self._eligible(w)
        mark = self.ledger.checkpoint()
        placed = None
        if len(prefer) == 1 and prefer[0] in self.ledger.nodes:
            placed = self.placer.place(w, eligible, holder, only_node=prefer[0])
        elif prefer:  # a gang made room on several nodes: try there first
            there = frozenset(n for n in prefer if eligible is None or n in eligible)
            placed = self.placer.place(w, there, holder)
        placed = placed or self.placer.place(w, eligible, holder)
        if placed is None or not self._breached(w):
            return placed
        self.ledger.rollback(mark)
        # Only a memory request can breach here (its size depends on the GPU): retry on
        # the GPUs large enough that its share of them stays within the gates.
        taken = sum(a.gpu_milli for a in placed)
        room = gates.headroom(self.ledger, self.tree, w.project, holder.non_preemptible) or 0
        roomy = frozenset(
            n.name
            for n in self.ledger.nodes.values()
            if (eligible is None or n.name in eligible) and w.demand_milli(n.gpu_memory_mib) <= room
        )
        placed = self.placer.place(w, roomy, holder) if roomy else None
        if placed is not None and self._breached(w):
            self.ledger.rollback(mark)
            placed = None
        if placed is None:
            reason = gates.blocked(self.ledger, self.tree, w.project, taken, holder.non_preemptible)
            self.reasons[w.name] = reason or self.reasons.get(w.name) or self._explain(w)
        return placed

    def _breached(self, w: Workload) -> bool:
        return gates.breached(self.ledger, self.tree, w.project, not w.is_preemptible)

    # ------------------------------------------------------------ reclaim / preempt

    def _victim_pool(self) -> list[RunningWorkload]:
        floor = self.snap.now - self.policy.min_runtime_seconds
        return [
            r
            for name, r in sorted(self.running.items())
            if name not in self.evictions
            and r.workload.is_preemptible
            and not r.terminating
            and r.started_at <= floor
        ]

    def _make_room(self, w: Workload) -> bool:
        """Room for w: freed earlier this cycle, else by reclaim, a move, or preemption."""
        placed = self._place(w) if self.borrowing.stable(w, self._need(w)) else None
        if placed is not None and not self.evictions:
            self._record(w, placed)
        elif placed is not None:  # into room this cycle's evictions free: bind once gone
            self._nominate(w, Found((), placed), ReasonCode.RECLAIMED, "reclaiming")
        if placed is not None:
            self.borrowing.record(w, self._need(w), placed)
            return True
        need = self._need(w)
        if self.policy.reclaim:
            for rule, code in (
                (self.rules.reclaim, ReasonCode.RECLAIMED),
                (self.rules.move, ReasonCode.MOVED),
            ):
                if code == ReasonCode.RECLAIMED and self._reclaims_only_to_deserved(w):
                    continue  # KAI's behaviour, kept for comparison: no reclaim past deserved
                found = rule(w, need)
                if found is not None:
                    verb = "reclaiming" if code == ReasonCode.RECLAIMED else "moving"
                    self._nominate(w, found, code, verb)
                    return True
        return self._preempt(w)

    def _unborrow(self, b: Borrow) -> Workload:
        """Take back a borrow a reclaim would now undo; the workload waits again."""
        w = b.workload
        for a in b.placed:
            self.ledger.release(a, Holder(w.project, not w.is_preemptible))
        self.bindings = [x for x in self.bindings if x.workload != w.name]
        self.nominated.pop(w.name, None)
        self.borrowing.wait(w, b.need)
        return w

    def _reclaims_only_to_deserved(self, w: Workload) -> bool:
        """Under reclaim_to=deserved, whether w would take its project past deserved."""
        if self.policy.reclaim_to != "deserved":
            return False
        project = self.tree.projects.get(w.project)
        deserved = project.deserved_milli if project is not None else 0
        return self.ledger.allocated(w.project) + self._need(w) > deserved

    def _preempt(self, w: Workload) -> bool:
        found = self.rules.preempt(w) if self.policy.preempt else None
        if found is None:
            return False
        self._nominate(w, found, ReasonCode.PREEMPTED, "preempting")
        return True

    def _nominate(self, w: Workload, found: Found, code: ReasonCode, verb: str) -> None:
        owners = sorted({v.workload.project for v in found.victims})
        placed_milli = sum(a.gpu_milli for a in found.placement)
        for v in found.victims:
            p = v.workload.project
            held = self.ledger.allocated(p) + sum(
                x.gpu_milli for x in found.victims if x.workload.project == p
            )
            held -= placed_milli if p == w.project else 0  # what p held before the move
            why = (
                f"re-placed at once elsewhere so {w.project}/{w.name} gets a block within its "
                f"deserved quota"
                if code == ReasonCode.MOVED
                else f"{p} held {g(held)} GPUs, fair share {g(self.fair.get(p, 0))}"
            )
            self.evictions[v.workload.name] = Eviction(
                v.workload.name, p, v.assignments, code, f"{verb[:-3]}ed by {w.name}: {why}", w.name
            )
            moved = self.rules.relocated.pop(v.workload.name, None)
            if moved is not None:  # where it fits again: placed there first next cycle
                self.nominated[v.workload.name] = (p, Found((), moved[1]))
            else:  # it waits from the next cycle on: a borrow it could undo is no borrow
                self.borrowing.wait(v.workload, v.gpu_milli)
        self.nominated[w.name] = (w.project, found)
        self.borrowing.leave(w, self._need(w))
        self.reasons[w.name] = reasons.reclaiming(len(found.victims), ", ".join(owners), verb)

    # --------------------------------------------------------------------- results

    def _explain(self, w: Workload) -> PendingReason:
        held, need = self.ledger.allocated(w.project), self._need(w)
        fair = self.fair.get(w.project, 0)
        if held + need > fair:
            return reasons.over_fair_share(w.project, held, fair, need, self._idle(w))
        over = [
            p for p in sorted(self.tree.projects) if p != w.project and self.rules.excess(p) > 0
        ]
        return reasons.unschedulable(self.ledger, w, self._eligible(w), over)

    def _idle(self, w: Workload) -> int:
        """Idle GPU milli on the nodes w may use; read only once the cycle has decided."""
        eligible = self._eligible(w)
        if eligible not in self._idle_by_eligible:
            self._idle_by_eligible[eligible] = sum(
                sum(free)
                for name, free in self.ledger.gpu_free.items()
                if (eligible is None or name in eligible)
                and not self.ledger.nodes[name].unschedulable
            )
        return self._idle_by_eligible[eligible]

    def _plan(self, capacity: int) -> CyclePlan:
        # Nominated workloads hold room in the ledger but are not bound by this plan.
        allocated = {p: self.ledger.allocated(p) for p in self.tree.projects}
        for project, found in self.nominated.values():
            allocated[project] -= sum(a.gpu_milli for a in found.placement)

        summaries = summarize(
            self.tree,
            fair=self.fair,
            demand=self.demand,
            allocated=allocated,
            running=self.running.values(),
            pending=self.snap.pending,
            bindings=self.bindings,
            evictions=self.evictions,
        )
        return CyclePlan(
            bindings=tuple(self.bindings),
            evictions=tuple(self.evictions[k] for k in sorted(self.evictions)),
            pending={
                k: replace(self.reasons[k], project=self.project_of[k])
                for k in sorted(self.reasons)
            },
            projects=summaries,
            capacity_milli=capacity,
            nominated=self._nominations(),
        )

    def _nominations(self) -> dict[str, tuple[str, ...]]:
        out = dict(self.kept)
        for name, (_, found) in self.nominated.items():
            out[name] = tuple(sorted({a.node for a in found.placement}))
        return {k: out[k] for k in sorted(out)}
