"""The scheduler's view of the cluster: the `ClusterSource` port over three reflectors.

Owns watching nodes, pods (all namespaces) and namespaces, the binds in flight (a pod the
executor is binding counts as bound on its node until the watch shows it, or the bind fails
and it is dropped: kube-scheduler's assume inside its cache), the pods a PodDisruptionBudget
refused to let go (spared as victims until a deadline), and a translation memo per
resourceVersion so a cycle over thousands of unchanged pods does not re-read them. It wakes
whoever waits in `wait_for_change`. It must not write to the API (executor.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from kubernetes import client

from fairshare.model import Node
from scheduler.kube.reflector import Reflector
from scheduler.kube.state import GpuMap, InFlight, Inputs, build
from scheduler.kube.translate import Obj, PodFacts, to_node, to_pod
from scheduler.ports import ClusterState


class ClusterCache:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        scheduler_name: str = "quotient",
        namespace: str = "quotient-system",
        watch_seconds: int = 300,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        core = client.CoreV1Api(api)
        self.scheduler_name = scheduler_name
        self.namespace = namespace
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._generation = 0
        self._monotonic = monotonic
        w = watch_seconds
        self.nodes = Reflector("nodes", core.list_node, self.touch, self.lock, watch_seconds=w)
        self.pods = Reflector(
            "pods", core.list_pod_for_all_namespaces, self.touch, self.lock, watch_seconds=w
        )
        self.namespaces = Reflector(
            "namespaces", core.list_namespace, self.touch, self.lock, watch_seconds=w
        )
        self._reflectors = (self.nodes, self.pods, self.namespaces)
        self._in_flight: dict[str, InFlight] = {}
        self.assume_ttl = 30.0  # seconds a bound pod may take to show up in the watch
        self._protected: dict[str, float] = {}  # pod -> monotonic deadline
        self._facts: dict[str, tuple[str, str, PodFacts]] = {}  # pod -> (rv, ns rv, facts)
        self._node_memo: dict[str, tuple[str, Node]] = {}
        self.gpu_map = GpuMap()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for r in self._reflectors:
            r.start()

    def stop(self) -> None:
        for r in self._reflectors:
            r.stop()

    def wait_synced(self, timeout: float) -> bool:
        deadline = self._monotonic() + timeout
        return all(r.synced.wait(max(deadline - self._monotonic(), 0)) for r in self._reflectors)

    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self._reflectors)

    def list_once(self) -> None:
        """Fill the stores with one list each, for commands that need no watch."""
        for r in self._reflectors:
            r.list_once()

    def touch(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait_for_change(self, timeout: float, since: int | None = None) -> int:
        """Block until something changed after generation `since` (or timeout)."""
        with self._changed:
            start = self._generation if since is None else since
            self._changed.wait_for(lambda: self._generation != start, timeout)
            return self._generation

    # -------------------------------------------------------------- binds in flight

    def bind_started(self, pod: str, node: str, reservation: str | None = None) -> None:
        with self.lock:
            self._in_flight[pod] = InFlight(node, reservation)

    def bind_ended(self, pod: str, ok: bool) -> None:
        """A failed bind is dropped now; a bound pod stays assumed until the watch shows its
        node (or a TTL passes), so no cycle in between decides it again."""
        with self.lock:
            flight = self._in_flight.pop(pod, None)
            if ok and flight is not None:
                self._in_flight[pod] = replace(flight, done_at=self._monotonic())
        self.touch()

    def _prune_in_flight(self, now: float) -> None:
        for pod, flight in list(self._in_flight.items()):
            obj = self.pods.items.get(pod)
            seen = obj is None or bool((obj.get("spec") or {}).get("nodeName"))
            stale = flight.done_at is not None and now - flight.done_at > self.assume_ttl
            if (flight.done_at is not None and seen) or stale:
                del self._in_flight[pod]

    def protect(self, pod: str, seconds: float) -> None:
        with self.lock:
            self._protected[pod] = self._monotonic() + seconds

    def protected_until(self, pod: str) -> float | None:
        with self.lock:
            until = self._protected.get(pod)
            return until if until is not None and until > self._monotonic() else None

    # -------------------------------------------------------------------- reads

    def pod(self, key: str) -> Obj | None:
        with self.lock:
            return self.pods.items.get(key)

    def has_pending(self) -> bool:
        """Some pod of ours waits: not bound, not being bound, not being deleted."""
        with self.lock:
            for key, pod in self.pods.items.items():
                spec = pod.get("spec") or {}
                if (
                    spec.get("schedulerName") == self.scheduler_name
                    and not spec.get("nodeName")
                    and key not in self._in_flight
                    and not pod["metadata"].get("deletionTimestamp")
                    and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                ):
                    return True
            return False

    def node_exists(self, name: str) -> bool:
        with self.lock:
            return name in self.nodes.items

    def cluster_state(self) -> ClusterState:
        with self.lock:
            now = self._monotonic()
            self._protected = {p: t for p, t in self._protected.items() if t > now}
            self._prune_in_flight(now)
            inputs = Inputs(
                nodes=[self._node(o) for _, o in sorted(self.nodes.items.items())],
                pods=list(self.pods.items.values()),
                facts=self._pod_facts,
                scheduler_name=self.scheduler_name,
                namespace=self.namespace,
                in_flight=dict(self._in_flight),
                protected=frozenset(self._protected),
            )
            state, self.gpu_map = build(inputs)
            live = self.pods.items.keys()
            for gone in [k for k in self._facts if k not in live]:
                del self._facts[gone]
            for gone in [n for n in self._node_memo if n not in self.nodes.items]:
                del self._node_memo[gone]
            return state

    def _node(self, obj: Obj) -> Node:
        name, rv = obj["metadata"]["name"], obj["metadata"].get("resourceVersion", "")
        memo = self._node_memo.get(name)
        if memo is None or memo[0] != rv:
            memo = (rv, to_node(obj))
            self._node_memo[name] = memo
        return memo[1]

    def _pod_facts(self, pod: Obj) -> PodFacts:
        meta = pod["metadata"]
        key = f"{meta.get('namespace')}/{meta['name']}"
        namespace = self.namespaces.items.get(meta.get("namespace", ""))
        ns_rv = namespace["metadata"].get("resourceVersion", "") if namespace else ""
        memo = self._facts.get(key)
        if memo is None or memo[0] != meta.get("resourceVersion") or memo[1] != ns_rv:
            memo = (meta.get("resourceVersion", ""), ns_rv, to_pod(pod, namespace))
            self._facts[key] = memo
        return memo[2]
