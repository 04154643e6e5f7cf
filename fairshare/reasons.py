"""Pending reasons: one code and one sentence per waiting workload, saying what must change.

Owns the wording of every reason ("needs 4 GPUs on one node; largest free block is 2 on
dgx1-1", "team-b is at its limit of 4 GPUs"). Messages name amounts in GPUs the way people
write them. It must not decide anything: decide.py tells it which case applies and passes
the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from fairshare.ledger import WHOLE, Ledger
from fairshare.model import PendingReason, ReasonCode, Workload
from fairshare.resources import format_gpus as g


def gpus(milli: int) -> str:
    """An amount with its unit, singular when it is one: "1 GPU", "0.5 GPU", "4 GPUs"."""
    return f"{g(milli)} GPU" if milli <= 1000 else f"{g(milli)} GPUs"


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def sits(milli: int) -> str:
    """ "1 GPU sits", "2 GPUs sit": the verb agrees with the amount."""
    return f"{gpus(milli)} sits" if milli <= 1000 else f"{gpus(milli)} sit"


def count(n: int, noun: str) -> str:
    """ "1 workload", "3 workloads"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def over_limit(owner: str, limit: int, held: int, need: int, kind: str) -> PendingReason:
    return PendingReason(
        ReasonCode.OVER_LIMIT,
        f"{kind} {owner} is at its limit of {gpus(limit)} (holds {g(held)}, needs {g(need)} "
        f"more): raise limit_gpus or wait for its workloads to finish",
    )


def over_deserved(
    owner: str, deserved: int, held: int, need: int, kind: str = "project"
) -> PendingReason:
    return PendingReason(
        ReasonCode.OVER_DESERVED,
        f"non-preemptible: would exceed deserved {g(deserved)} of {kind} {owner} "
        f"(non-preemptible work holds {g(held)}, needs {g(need)} more): raise deserved_gpus "
        f"or mark it preemptible to borrow",
    )


def never_within_limit(owner: str, limit: int, need: int, kind: str) -> PendingReason:
    return PendingReason(
        ReasonCode.OVER_LIMIT,
        f"can never run: it needs {gpus(need)} and {kind} {owner}'s limit_gpus is "
        f"{g(limit)}: raise the limit or make the workload smaller",
    )


def never_within_deserved(owner: str, deserved: int, need: int, kind: str) -> PendingReason:
    return PendingReason(
        ReasonCode.OVER_DESERVED,
        f"can never run: non-preemptible, it needs {gpus(need)} and {kind} {owner} deserves "
        f"{g(deserved)}: raise deserved_gpus, mark it preemptible, or make it smaller",
    )


def over_fair_share(project: str, held: int, fair: int, need: int, idle: int) -> PendingReason:
    if idle >= need:  # enough idle GPUs in all, but no block of the right shape
        when = (
            f"{sits(idle)} idle but scattered: it runs when a node frees room for it"
        )
    else:
        when = f"it runs when {sits(need)} idle"
    return PendingReason(
        ReasonCode.OVER_FAIR_SHARE,
        f"{project} holds {gpus(held)} and its fair share is {g(fair)}; this workload needs "
        f"{g(need)} more: {when} or {possessive(project)} fair share grows (other projects' "
        f"demand falls, or raise its deserved_gpus or over_quota_weight)",
    )


def reclaiming(victims: int, owners: str, verb: str) -> PendingReason:
    if victims == 0:
        return PendingReason(
            ReasonCode.RECLAIMING,
            "room freed by this cycle's evictions; binds once they terminate",
        )
    return PendingReason(
        ReasonCode.RECLAIMING,
        f"{verb} {count(victims, 'workload')} of {owners} to make room; binds once they "
        f"terminate",
    )


def waiting_for_victims(nodes: tuple[str, ...]) -> PendingReason:
    where = ", ".join(nodes) or "its nodes"
    return PendingReason(
        ReasonCode.RECLAIMING,
        f"room was made on {where} by evicting pods that are still terminating; binds there "
        f"once they are gone",
    )


def no_matching_node(detail: str) -> PendingReason:
    return PendingReason(
        ReasonCode.NO_MATCHING_NODE,
        f"no node can ever run it: {detail}; change its nodeSelector, affinity, tolerations, "
        f"the project's node_pools, or its size",
    )


def unschedulable(
    ledger: Ledger, w: Workload, eligible: frozenset[str] | None, over_share: Sequence[str]
) -> PendingReason:
    pod = max(w.pods, key=lambda p: (p.gpu.whole, p.gpu.fraction_milli, p.gpu.memory_mib))
    gang = f"{len(w.pods)} pods of " if len(w.pods) > 1 else ""
    if pod.gpu.is_fractional:
        size = (
            f"{pod.gpu.memory_mib} MiB of GPU memory"
            if pod.gpu.memory_mib
            else f"{g(pod.gpu.fraction_milli)} of a GPU"
        )
        best = _largest_shared(ledger, eligible)
        where = (
            f"the most free on a shared GPU is {g(best[0])} on {best[1]}"
            if best
            else ("no GPU is shared")
        )
        return PendingReason(
            ReasonCode.UNSCHEDULABLE,
            f"needs {gang}{size} on one GPU; {where} and no GPU is idle: {_waits_for(over_share)}",
        )
    need = pod.gpu.whole
    block = _largest_block(ledger, eligible)
    largest = f"largest free block is {block[0]} on {block[1]}" if block else "no GPU is free"
    return PendingReason(
        ReasonCode.UNSCHEDULABLE,
        f"needs {gang}{gpus(need * WHOLE)} on one node; {largest}: {_waits_for(over_share)}",
    )


def _waits_for(over_share: Sequence[str]) -> str:
    if not over_share:
        return "waits for running work to finish (no project is over its fair share)"
    names = ", ".join(over_share[:3]) + (" ..." if len(over_share) > 3 else "")
    return (
        f"waits for running work to finish; {names} over their fair share cannot give room "
        f"now (their work there is non-preemptible or younger than min_runtime_seconds, "
        f"the cycle's reclaim budget is spent, or the move would not make shares fairer)"
    )


def _largest_block(ledger: Ledger, eligible: frozenset[str] | None) -> tuple[int, str] | None:
    for count, node in reversed(ledger.whole_index):
        if count > 0 and (eligible is None or node in eligible):
            return int(count), str(node)
    return None


def _largest_shared(ledger: Ledger, eligible: frozenset[str] | None) -> tuple[int, str] | None:
    for free, node, gpu in reversed(ledger.shared_index):
        if eligible is None or node in eligible:
            return int(free), f"{node}/gpu{gpu}"
    return None


def too_big_for_every_node(w: Workload, largest_node_gpus: int, total_gpus: int) -> str | None:
    """Why the workload can never fit the eligible nodes even when empty, or None."""
    for pod in w.pods:
        if pod.gpu.whole > largest_node_gpus:
            return f"a pod needs {pod.gpu.whole} GPUs and the largest node has {largest_node_gpus}"
        if pod.gpu.fraction_milli >= WHOLE:
            return "a fraction must be below 1 GPU"
    whole = sum(p.gpu.whole for p in w.pods)
    if whole > total_gpus:
        return f"the gang needs {whole} GPUs and the nodes it may use have {total_gpus} in all"
    return None
