"""Assumed bindings: what the loop bound but the cluster source may not show yet.

Owns the kube-scheduler habit of assume/forget: a pod the executor bound is treated as
running on its node until the cluster source reports it so (then the assumption is
dropped) or until it expires (then it is forgotten and the pod is decided afresh). A failed
bind is never assumed. It must not decide placements or talk to the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fairshare.model import Binding, RunningWorkload, Workload
from scheduler.ports import ClusterState


@dataclass
class AssumeCache:
    ttl_seconds: int = 60
    _assumed: dict[str, tuple[Binding, int]] = field(default_factory=dict)  # pod -> (b, at)

    def assume(self, bindings: tuple[Binding, ...], now: int) -> None:
        for b in bindings:
            self._assumed[b.assignment.pod] = (b, now)

    def forget(self, pod: str) -> None:
        """A bind failed after it was assumed: decide that pod afresh next cycle. Safe to call
        from a binding thread (one dict operation)."""
        self._assumed.pop(pod, None)

    def __len__(self) -> int:
        return len(self._assumed)

    def overlay(self, state: ClusterState, now: int) -> ClusterState:
        """The state with assumed pods moved from pending to running."""
        self._expire(now)
        self._confirm(state)
        if not self._assumed:
            return state
        pending: list[Workload] = []
        running = list(state.running)
        for w in state.pending:
            held = [self._assumed[p.name] for p in w.pods if p.name in self._assumed]
            if len(held) < len(w.pods):
                pending.append(w)  # a partly-assumed gang is decided again as a whole
                continue
            assignments = tuple(b.assignment for b, _ in held)
            running.append(RunningWorkload(w, assignments, started_at=min(t for _, t in held)))
        return replace(state, running=tuple(running), pending=tuple(pending))

    def _expire(self, now: int) -> None:
        for pod, (_, at) in list(self._assumed.items()):
            if now - at > self.ttl_seconds:
                del self._assumed[pod]

    def _confirm(self, state: ClusterState) -> None:
        pending_pods = {p.name for w in state.pending for p in w.pods}
        for pod in list(self._assumed):
            if pod not in pending_pods:
                del self._assumed[pod]  # the source shows it bound (or gone): stop assuming
