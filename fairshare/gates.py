"""The hard gates a placement must pass: `limit_gpus` and the non-preemptible cap.

Owns DESIGN §1's two never-broken rules, checked at the project and at every department
above it: what a node of the quota tree holds never exceeds its `limit_gpus`, and its
non-preemptible work never exceeds its `deserved_gpus`. A `gpu_memory_mib` request is
charged as the fraction of the GPU it actually lands on, so the gates are checked on the
ledger once a placement is held (`breached`), and before it only as a cheap necessary
test with the smallest size the request can take (`blocked`). It must not place or evict.
"""

from __future__ import annotations

from fairshare import reasons
from fairshare.ledger import Ledger
from fairshare.model import PendingReason
from fairshare.quota_tree import QuotaTree


def blocked(
    ledger: Ledger, tree: QuotaTree, project: str, need: int, non_preemptible: bool
) -> PendingReason | None:
    """Why holding `need` more milli would break a gate of `project`'s chain, or None."""
    for owner in ledger.chain(project):
        node = tree.node(owner)
        held = ledger.allocated(owner)
        if node.limit_milli is not None and held + need > node.limit_milli:
            kind = "project" if owner in tree.projects else "department"
            return reasons.over_limit(owner, node.limit_milli, held, need, kind)
    if non_preemptible:
        for owner in ledger.chain(project):
            deserved = tree.node(owner).deserved_milli
            held = ledger.non_preemptible.get(owner, 0)
            if held + need > deserved:
                kind = "project" if owner in tree.projects else "department"
                return reasons.over_deserved(owner, deserved, held, need, kind)
    return None


def breached(ledger: Ledger, tree: QuotaTree, project: str, non_preemptible: bool) -> bool:
    """Does what the ledger holds now break a gate anywhere on `project`'s chain?"""
    for owner in ledger.chain(project):
        node = tree.node(owner)
        if node.limit_milli is not None and ledger.allocated(owner) > node.limit_milli:
            return True
        if non_preemptible and ledger.non_preemptible.get(owner, 0) > node.deserved_milli:
            return True
    return False


def headroom(ledger: Ledger, tree: QuotaTree, project: str, non_preemptible: bool) -> int | None:
    """The most milli `project` may still take under its gates (None: no gate applies)."""
    room: int | None = None
    for owner in ledger.chain(project):
        node = tree.node(owner)
        caps = [] if node.limit_milli is None else [node.limit_milli - ledger.allocated(owner)]
        if non_preemptible:
            caps.append(node.deserved_milli - ledger.non_preemptible.get(owner, 0))
        for cap in caps:
            room = cap if room is None else min(room, cap)
    return room
