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

from fairshare import reasons
from fairshare.division import divide_tree
from fairshare.eligibility import EligibilityCache
from fairshare.fragmentation import ShapeMix
from fairshare.ledger import WHOLE, Holder, Ledger
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
from fairshare.preemption import Found, VictimSearch, holder_of
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
        self.max_gpu_memory = max((n.gpu_memory_mib for n in snapshot.nodes), default=0)
        self.fair: dict[str, int] = {}
        self.demand: dict[str, int] = {}
        self.bindings: list[Binding] = []
        self.evictions: dict[str, Eviction] = {}
        self.nominated: dict[str, tuple[str, Found]] = {}  # workload -> (project, found)
        self.reasons: dict[str, PendingReason] = {}
        self.kept: dict[str, tuple[str, ...]] = {}  # nominations still waiting on victims
        self.reclaimed_milli = 0

    # -------------------------------------------------------------------- the cycle

    def run(self) -> CyclePlan:
        self._hold_existing()
        self._enforce_run_time_limits()
        valid = self._screen(sorted(self.snap.pending, key=lambda w: w.name))
        capacity = self._capacity()
        self.demand = self._demand(valid)
        self.fair = divide_tree(self.tree, capacity, self.demand)
        for w in valid:
            for p in w.pods:
                if p.gpu.fraction_milli:
                    self.placer.fractions.add(p.gpu.fraction_milli)
        mix = ShapeMix.of([*(r.workload for r in self.snap.running), *valid])
        self.placer.use_mix(mix, pending_pods=sum(len(w.pods) for w in valid))
        unplaced = self._allocate(valid)
        self.search.index = VictimIndex.build(self._victim_pool())
        left = [w for w in self._queue(unplaced) if not self._make_room(w)]
        for w in left:
            self.reasons.setdefault(w.name, self._explain(w))
        return self._plan(capacity)

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
        return self.screen.eligible(w)

    def _screen(self, pending: Sequence[Workload]) -> list[Workload]:
        valid: list[Workload] = []
        for w in pending:
            reason = self.screen.static_reason(w)
            if reason is None:
                valid.append(w)
            else:
                self.reasons[w.name] = reason
        return valid

    def _capacity(self) -> int:
        """GPUs to divide: schedulable nodes, plus what pods still hold on cordoned ones."""
        total = 0
        for n in self.ledger.nodes.values():
            held = sum(WHOLE - free for free in self.ledger.gpu_free[n.name])
            total += held if n.unschedulable else n.gpu_count * WHOLE
        foreign = sum(
            u.gpus * WHOLE
            for u in self.snap.foreign
            if u.node in self.ledger.nodes and not self.ledger.nodes[u.node].unschedulable
        )
        return max(total - foreign, 0)

    def _need(self, w: Workload) -> int:
        return w.demand_milli(self.max_gpu_memory)

    def _demand(self, valid: Sequence[Workload]) -> dict[str, int]:
        demand = {p: self.ledger.allocated(p) for p in self.tree.projects}
        for w in valid:
            demand[w.project] += self._need(w)
        # A project confined to some node pools can never use more than those pools hold,
        # so its share must not be sized (and others' shrunk) beyond that.
        for name, project in self.tree.projects.items():
            if project.node_pools:
                pools = set(project.node_pools)
                room = sum(
                    n.gpu_count * WHOLE
                    for n in self.ledger.nodes.values()
                    if n.pool in pools and not n.unschedulable
                )
                demand[name] = min(demand[name], room)
        return demand

    # ------------------------------------------------------------------ allocation

    def _allocate(self, valid: Sequence[Workload]) -> list[Workload]:
        """Place within fair share first; then let projects borrow what is still idle."""
        deferred: list[Workload] = []
        unplaced: list[Workload] = []
        for w in self._queue(self._place_nominated(valid)):
            if self._gated(w):
                continue
            if self.ledger.allocated(w.project) + self._need(w) > self.fair.get(w.project, 0):
                deferred.append(w)
            elif not self._bind(w):
                unplaced.append(w)
        for w in self._queue(deferred):
            if not self._gated(w) and not self._bind(w):
                unplaced.append(w)
        return unplaced

    def _place_nominated(self, valid: Sequence[Workload]) -> list[Workload]:
        """Place what the last cycle made room for before anyone else may take that room.

        Returns the workloads left for the ordinary queue.
        """
        waiting_on_victims = any(r.terminating for r in self.running.values())
        rest: list[Workload] = []
        for w in valid:
            nodes = self.snap.nominated.get(w.name)
            if nodes is None:
                rest.append(w)
            elif self._gated(w) or self._bind(w, nodes):
                continue
            elif waiting_on_victims:
                self.kept[w.name] = nodes
                self.reasons[w.name] = reasons.waiting_for_victims(nodes)
            else:
                rest.append(w)
        return rest

    def _gated(self, w: Workload) -> bool:
        """Limits and the non-preemptible rule; sets the reason when they block."""
        need = self._need(w)
        for owner in self.ledger.chain(w.project):
            node = self.tree.node(owner)
            held = self.ledger.allocated(owner)
            if node.limit_milli is not None and held + need > node.limit_milli:
                kind = "project" if owner in self.tree.projects else "department"
                self.reasons[w.name] = reasons.over_limit(owner, node.limit_milli, held, need, kind)
                return True
        if not w.is_preemptible:
            deserved = self.tree.projects[w.project].deserved_milli
            held = self.ledger.non_preemptible.get(w.project, 0)
            if held + need > deserved:
                self.reasons[w.name] = reasons.over_deserved(w.project, deserved, held, need)
                return True
        self.reasons.pop(w.name, None)
        return False

    def _bind(self, w: Workload, prefer: Sequence[str] = ()) -> bool:
        holder = Holder(w.project, not w.is_preemptible)
        eligible = self._eligible(w)
        placed = None
        if len(prefer) == 1 and prefer[0] in self.ledger.nodes:
            placed = self.placer.place(w, eligible, holder, only_node=prefer[0])
        placed = placed or self.placer.place(w, eligible, holder)
        if placed is None:
            return False
        self.bindings.extend(Binding(w.name, w.project, a) for a in placed)
        for p in w.pods:
            if p.gpu.fraction_milli:
                self.placer.fractions.discard(p.gpu.fraction_milli)
        return True

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

    def _excess(self, project: str) -> int:
        return self.ledger.allocated(project) - self.fair.get(project, 0)

    def _make_room(self, w: Workload) -> bool:
        return (self.policy.reclaim and self._reclaim(w)) or (
            self.policy.preempt and self._preempt(w)
        )

    def _reclaim(self, w: Workload) -> bool:
        """Take room from projects over their fair share, if the move makes shares fairer.

        Three rules, each found necessary by the cycle property tests:
        - victims' projects are over their fair share (taking from one at or below it lets
          two projects reclaim from each other when victims free more than w uses);
        - each is strictly more over it than w's project will be (DESIGN §1.2 step 4);
        - no victim's project could at once reclaim that victim back (a gang that must
          evict more than it uses can leave the victim's project far enough below that it
          would take the room back and borrow the leftover, for ever). This refuses only
          moves that would be undone, so a project still gets its deserved quota.
        """
        budget = self.policy.max_reclaim_milli_per_cycle
        if budget is not None and self.reclaimed_milli >= budget:
            return False  # this cycle's disruption budget is spent
        if self.policy.reclaim_to == "deserved" and self._beyond_deserved(w):
            return False
        after = max(self._excess(w.project) + self._need(w), 0)
        over = {
            p: e
            for p, live in self.search.index.live.items()
            if live and p != w.project and (e := self._excess(p)) > after
        }
        holder = Holder(w.project, not w.is_preemptible)

        def final(found: Found) -> bool:
            # The ledger now shows the move made: victims released, w held.
            mover = self._excess(w.project)
            if not self._within_budget(found):
                return False
            return mover <= 0 or all(
                self._excess(v.workload.project) + v.gpu_milli >= mover for v in found.victims
            )

        # The most-over projects give first; less-over ones only if they cannot make room.
        for level in sorted(set(over.values()), reverse=True):
            allowed = {p for p, e in over.items() if e >= level}
            found = self.search.find(w, self._eligible(w), holder, allowed, final)
            if found is not None:
                self._nominate(w, found, ReasonCode.RECLAIMED, "reclaiming")
                return True
        return False

    def _beyond_deserved(self, w: Workload) -> bool:
        project = self.tree.projects.get(w.project)
        deserved = project.deserved_milli if project is not None else 0
        return self.ledger.allocated(w.project) + self._need(w) > deserved

    def _within_budget(self, found: Found) -> bool:
        budget = self.policy.max_reclaim_milli_per_cycle
        taken = sum(v.gpu_milli for v in found.victims)
        return budget is None or self.reclaimed_milli + taken <= budget

    def _preempt(self, w: Workload) -> bool:
        project = w.project
        if not self.search.index.live.get(project):
            return False
        before = self.ledger.allocated(project)

        def lower(r: RunningWorkload) -> bool:
            return r.workload.priority < w.priority

        def keeps_share(_: Found) -> bool:
            return self.ledger.allocated(project) <= max(before, self.fair.get(project, 0))

        holder = Holder(project, not w.is_preemptible)
        found = self.search.find(w, self._eligible(w), holder, {project}, keeps_share, lower)
        if found is None:
            return False
        self._nominate(w, found, ReasonCode.PREEMPTED, "preempting")
        return True

    def _nominate(self, w: Workload, found: Found, code: ReasonCode, verb: str) -> None:
        owners = sorted({v.workload.project for v in found.victims})
        for v in found.victims:
            p = v.workload.project
            held = self.ledger.allocated(p) + sum(
                x.gpu_milli for x in found.victims if x.workload.project == p
            )
            self.evictions[v.workload.name] = Eviction(
                v.workload.name,
                p,
                v.assignments,
                code,
                f"{verb.removesuffix('ing')}ed by {w.project}/{w.name}: {p} held {g(held)} GPUs, "
                f"fair share {g(self.fair.get(p, 0))}",
            )
        if code == ReasonCode.RECLAIMED:
            self.reclaimed_milli += sum(v.gpu_milli for v in found.victims)
        self.nominated[w.name] = (w.project, found)
        self.reasons[w.name] = reasons.reclaiming(len(found.victims), ", ".join(owners), verb)

    # --------------------------------------------------------------------- results

    def _explain(self, w: Workload) -> PendingReason:
        held, need = self.ledger.allocated(w.project), self._need(w)
        fair = self.fair.get(w.project, 0)
        if held + need > fair:
            return reasons.over_fair_share(w.project, held, fair, need)
        over = [p for p in sorted(self.tree.projects) if p != w.project and self._excess(p) > 0]
        return reasons.unschedulable(self.ledger, w, self._eligible(w), over)

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
