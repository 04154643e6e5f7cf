"""Screening: what no amount of capacity will fix, decided before anything is placed.

Owns the static reasons a workload waits: a contradictory request, an unknown project, a
gang with fewer pods than its minimum, no node it may ever run on (pools, selectors,
affinity, taints), a pod or gang larger than every such node. It also answers which nodes a
workload may use, for everyone else in the cycle. It must not look at free capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

from fairshare import reasons
from fairshare.eligibility import EligibilityCache
from fairshare.model import PendingReason, ReasonCode, Workload
from fairshare.quota_tree import QuotaTree


@dataclass
class Screen:
    tree: QuotaTree
    nodes: EligibilityCache

    def pools(self, w: Workload) -> tuple[str, ...]:
        project = self.tree.projects.get(w.project)
        return project.node_pools if project else ()

    def eligible(self, w: Workload) -> frozenset[str] | None:
        """Names of the nodes the workload may use; None means every node."""
        return self.nodes.eligible(w.constraints, self.pools(w))

    def static_reason(self, w: Workload) -> PendingReason | None:
        if w.invalid_reason:
            return PendingReason(ReasonCode.INVALID_REQUEST, w.invalid_reason)
        if w.project not in self.tree.projects:
            return PendingReason(
                ReasonCode.PROJECT_NOT_FOUND,
                f"project {w.project!r} does not exist: create it, or label the pod or its "
                f"namespace quotient.io/project with an existing project",
            )
        if len(w.pods) < w.gang_minimum:
            return PendingReason(
                ReasonCode.GANG_INCOMPLETE,
                f"{len(w.pods)} of at least {w.gang_minimum} gang pods exist; "
                f"waits for the rest to be created",
            )
        eligible = self.eligible(w)
        if eligible is not None and not eligible:
            return reasons.no_matching_node(self.nodes.why_not(w.constraints, self.pools(w)))
        largest, total = self.nodes.gpu_sizes(w.constraints, self.pools(w))
        too_big = reasons.too_big_for_every_node(w, largest, total)
        if too_big:
            return reasons.no_matching_node(too_big)
        return self._beyond_quota(w)

    def _beyond_quota(self, w: Workload) -> PendingReason | None:
        """A workload no limit (or, non-preemptible, no deserved quota) could ever admit."""
        memory = 0
        if any(p.gpu.memory_mib for p in w.pods):  # the least it can take: on the largest GPU
            memory = self.nodes.largest_gpu_memory(w.constraints, self.pools(w))
        need = w.demand_milli(memory)
        chain = (w.project, *self.tree.ancestors(w.project))
        for owner in chain:
            node = self.tree.node(owner)
            kind = "project" if owner in self.tree.projects else "department"
            if node.limit_milli is not None and need > node.limit_milli:
                return reasons.never_within_limit(owner, node.limit_milli, need, kind)
            if not w.is_preemptible and need > node.deserved_milli:
                return reasons.never_within_deserved(owner, node.deserved_milli, need, kind)
        return None
