"""PLACEHOLDER until the real core lands: every workload stays pending."""

from __future__ import annotations

from fairshare.model import CyclePlan, PendingReason, Policy, ReasonCode, Snapshot


def decide(snapshot: Snapshot, policy: Policy) -> CyclePlan:
    return CyclePlan(
        pending={w.name: PendingReason(ReasonCode.UNSCHEDULABLE, "placeholder")
                 for w in snapshot.pending},
    )
