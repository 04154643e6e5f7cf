"""The `Executor` port on Kubernetes: bind, evict, and say why pods wait.

Owns acting on a plan, kube-scheduler's binding cycle: each binding is marked in flight in
the cache and handed to a pool, so the decision never waits on the API; a bind that fails
(409 because someone else bound it, a timeout, a node that went away) is dropped from the
cache and forgotten by the loop's AssumeCache, so the next cycle decides that pod afresh.
Bindings go through the `pods/binding` subresource (`_preload_content=False`: the reply is a
Status, not a Binding). Fractional pods get their reservation, UUID and ConfigMap first
(fractional.py). Evictions go through policy/v1 Eviction, never a DELETE, so budgets hold:
a 429 spares the pod as a victim for a back-off and the waiting pods' reasons say so. Nothing
is bound unless `is_leader()` holds at the moment of the call. It must not decide anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from fairshare.model import Binding, CyclePlan, Eviction, ReasonCode
from scheduler.assume import AssumeCache
from scheduler.kube import sharing
from scheduler.kube.cache import ClusterCache
from scheduler.kube.config import done
from scheduler.kube.events import PodReporter
from scheduler.kube.fractional import ReservationFailed, Reservations, new_reservation_name
from scheduler.kube.metrics import Metrics
from scheduler.ports import ExecutionResult

log = logging.getLogger(__name__)

IO_ERRORS = (ApiException, HTTPError, OSError, ReservationFailed)
WAITING_CODES = {ReasonCode.UNSCHEDULABLE, ReasonCode.RECLAIMING, ReasonCode.OVER_FAIR_SHARE}


class NotLeader(RuntimeError):
    pass


@dataclass(frozen=True)
class Refusal:
    pods: tuple[str, ...]
    message: str
    until: float  # wall-clock seconds


class KubeExecutor:
    def __init__(
        self,
        api: client.ApiClient,
        cache: ClusterCache,
        reporter: PodReporter,
        reservations: Reservations,
        *,
        metrics: Metrics | None = None,
        assumed: AssumeCache | None = None,
        is_leader: Callable[[], bool] = lambda: True,
        bind_workers: int = 16,
        pdb_backoff_seconds: float = 60.0,
        on_bound: Callable[[str, float], None] | None = None,
    ) -> None:
        self.core: Any = client.CoreV1Api(api)  # JSON bodies, raw replies: see _preload_content
        self.cache, self.reporter, self.reservations = cache, reporter, reservations
        self.metrics, self.assumed, self.is_leader = metrics, assumed, is_leader
        self.pdb_backoff_seconds = pdb_backoff_seconds
        self.on_bound = on_bound
        self._binds = ThreadPoolExecutor(bind_workers, thread_name_prefix="bind")
        # Fractional binds wait on devices for up to minutes: never in front of evictions.
        self._slow = ThreadPoolExecutor(16, thread_name_prefix="reserve")
        self._evictions = ThreadPoolExecutor(8, thread_name_prefix="evict")
        self._busy: set[str] = set()  # reservations a fractional bind is working on
        self._refusals: dict[str, Refusal] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._futures: set[Future[None]] = set()
        self._no_uuid: dict[str, float] = {}  # node -> when a reservation there timed out

    def close(self) -> None:
        self._stopping.set()
        for pool in (self._binds, self._slow, self._evictions):
            pool.shutdown(wait=True)

    def drain(self, timeout: float | None = 30.0) -> None:
        """Wait for the binds submitted so far (tests and the bench)."""
        with self._lock:
            futures = list(self._futures)
        wait(futures, timeout)

    def busy(self) -> bool:
        """Binds are queued or running: reporting waits for them."""
        with self._lock:
            return bool(self._futures)

    def _submit(self, pool: ThreadPoolExecutor, job: Callable[..., None], *args: Any) -> None:
        future = pool.submit(job, *args)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
        if future.exception() is not None:
            log.error("binding job failed: %r", future.exception())

    # -------------------------------------------------------------------- the port

    def execute(self, plan: CyclePlan) -> ExecutionResult:
        if not self.is_leader():
            reason = "not the leader: another replica schedules"
            return ExecutionResult(
                failed_bindings={b.assignment.pod: reason for b in plan.bindings}
            )
        evicted, refused = self._evict_all(plan.evictions)
        bound, failed = self._submit_binds(plan.bindings)
        self._report_pending(plan)
        self._clean_reservations()
        return ExecutionResult(
            bound=bound, evicted=evicted, failed_bindings=failed, failed_evictions=refused
        )

    # ------------------------------------------------------------------ evictions

    def _evict_all(
        self, evictions: Sequence[Eviction]
    ) -> tuple[tuple[Eviction, ...], dict[str, str]]:
        futures = {e.workload: self._evictions.submit(self._evict, e) for e in evictions}
        done, refused = [], {}
        for e in evictions:
            problem = futures[e.workload].result()
            if problem is None:
                done.append(e)
            else:
                refused[e.workload] = problem
        return tuple(done), refused

    def _evict(self, e: Eviction) -> str | None:
        for a in e.pods:
            namespace, name = a.pod.split("/", 1)
            body = {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace},
            }
            try:
                done(
                    self.core.create_namespaced_pod_eviction(
                        name, namespace, body, _preload_content=False, _request_timeout=10
                    )
                )
            except ApiException as exc:
                if exc.status == 404:
                    continue  # already gone: what the eviction wanted
                if exc.status == 429:
                    return self._refused(e, a.pod, exc)
                self._count("eviction_failures")
                return f"eviction of {a.pod} failed: {exc.status} {exc.reason}"
            except (HTTPError, OSError) as exc:
                return f"eviction of {a.pod} failed: {exc}"
            self._count("evictions")
            self.reporter.event(
                a.pod,
                self._uid(a.pod),
                "Normal",
                str(e.reason),
                "Preempting",
                f"evicted by quotient ({e.reason}): {e.message}",
            )
        return None

    def _refused(self, e: Eviction, pod: str, exc: ApiException) -> str:
        pods = tuple(a.pod for a in e.pods)
        for p in pods:
            self.cache.protect(p, self.pdb_backoff_seconds)
        message = (
            f"eviction of {pod} was refused by a PodDisruptionBudget; it is spared as a "
            f"victim for {self.pdb_backoff_seconds:g}s"
        )
        with self._lock:
            self._refusals[e.workload] = Refusal(
                pods, message, time.time() + self.pdb_backoff_seconds
            )
        self._count("evictions_refused")
        self.reporter.event(
            pod,
            self._uid(pod),
            "Warning",
            "EvictionRefused",
            "Preempting",
            f"{message}: {exc.body or exc.reason}",
        )
        return message

    # -------------------------------------------------------------------- binding

    def _submit_binds(
        self, bindings: Sequence[Binding]
    ) -> tuple[tuple[Binding, ...], dict[str, str]]:
        bound: list[Binding] = []
        failed: dict[str, str] = {}
        shared: dict[tuple[str, int], list[Binding]] = {}
        for b in bindings:
            problem = self._precheck(b)
            if problem is not None:
                failed[b.assignment.pod] = problem
            elif self._is_fraction(b):
                shared.setdefault((b.assignment.node, b.assignment.gpu_indices[0]), []).append(b)
            else:
                self.cache.bind_started(b.assignment.pod, b.assignment.node)
                self._submit(self._binds, self._bind_whole, b, "", self._decided_uid(b))
                bound.append(b)
        for (node, index), group in sorted(shared.items()):
            existing = self.cache.gpu_map.shared.get((node, index))
            if existing is None and (problem := self._reservation_backoff(node)) is not None:
                failed.update({b.assignment.pod: problem for b in group})
                continue
            key = existing or f"{self.reservations.spec.namespace}/{new_reservation_name(node)}"
            with self._lock:
                self._busy.add(key)
            for b in group:
                self.cache.bind_started(b.assignment.pod, node, key)
            uids = [self._decided_uid(b) for b in group]
            self._submit(self._slow, self._bind_shared, key, existing is None, group, uids)
            bound.extend(group)
        for pod, problem in failed.items():
            log.info("not binding %s: %s", pod, problem)
        return tuple(bound), failed

    def _precheck(self, b: Binding) -> str | None:
        pod = self.cache.pod(b.assignment.pod)
        if pod is None:
            return "the pod is gone"
        if (pod.get("spec") or {}).get("nodeName"):
            return "the pod is already bound"
        if not self.cache.node_exists(b.assignment.node):
            return f"node {b.assignment.node} is gone"
        return None

    def _is_fraction(self, b: Binding) -> bool:
        if b.assignment.gpu_memory_limit_mib is None or len(b.assignment.gpu_indices) != 1:
            return False
        pod = self.cache.pod(b.assignment.pod)  # MIG slices come from the device plugin
        return pod is None or not sharing.asks_for_mig(pod)

    def _decided_uid(self, b: Binding) -> str:
        """The uid of the pod the decision saw (the cache may already hold a newer one)."""
        return self.cache.gpu_map.uids.get(b.assignment.pod, "")

    def _bind_whole(self, b: Binding, gpu: str = "", uid: str = "") -> None:
        pod, node = b.assignment.pod, b.assignment.node
        try:
            self._post_binding(pod, node, uid)
        except (*IO_ERRORS, NotLeader) as exc:
            self.cache.bind_ended(pod, ok=False)
            self._bind_failed(pod, exc)
            return
        self.cache.bind_ended(pod, ok=True)
        self._count("binds")
        if self.on_bound is not None:
            self.on_bound(pod, time.monotonic())
        where = f"{node} (GPU {gpu})" if gpu else node
        self.reporter.forget(pod)
        self.reporter.event(
            pod,
            self._uid(pod),
            "Normal",
            "Scheduled",
            "Binding",
            f"Successfully assigned {pod} to {where}",
        )

    def _post_binding(self, pod: str, node: str, uid: str) -> None:
        if not self.is_leader():
            raise NotLeader("lost the lease before binding")
        namespace, name = pod.split("/", 1)
        # The uid makes the bind a precondition on this very pod: one deleted and created
        # again under the same name meanwhile answers 409 instead of being bound blindly.
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid or None},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        done(
            self.core.create_namespaced_pod_binding(
                name, namespace, body, _preload_content=False, _request_timeout=10
            )
        )

    def _bind_failed(self, pod: str, exc: BaseException) -> None:
        self._count("bind_failures")
        if self.assumed is not None:
            self.assumed.forget(pod)
        detail = f"{exc.status} {exc.reason}" if isinstance(exc, ApiException) else str(exc)
        log.warning("bind of %s failed (%s); it is decided again next cycle", pod, detail)

    def _bind_shared(self, key: str, create: bool, group: list[Binding], uids: list[str]) -> None:
        """Reservation, its UUID, each pod's ConfigMap, then the binds, in that order."""
        try:
            if create:
                self.reservations.create(key.split("/", 1)[1], group[0].assignment.node)
            gpu_uuid = self.reservations.wait_uuid(key, self._stopping.is_set)
        except IO_ERRORS as exc:
            if isinstance(exc, ReservationFailed):
                with self._lock:
                    self._no_uuid[group[0].assignment.node] = time.monotonic()
            for b in group:
                self.cache.bind_ended(b.assignment.pod, ok=False)
                self._bind_failed(b.assignment.pod, exc)
            self._release(key)
            return
        for b, uid in zip(group, uids, strict=True):
            pod = self.cache.pod(b.assignment.pod)
            try:
                if pod is None:
                    raise ReservationFailed("the pod is gone")
                self.reservations.write_configmap(pod, gpu_uuid, b.assignment)
                self.reservations.annotate(pod, key, gpu_uuid)
            except IO_ERRORS as exc:
                self.cache.bind_ended(b.assignment.pod, ok=False)
                self._bind_failed(b.assignment.pod, exc)
                continue
            self._bind_whole(b, gpu_uuid, uid)
        self._release(key)

    def _reservation_backoff(self, node: str) -> str | None:
        """A node whose last reservation never reported a UUID gets no new one for a while."""
        wait = self.reservations.spec.retry_seconds
        with self._lock:
            failed_at = self._no_uuid.get(node)
        if failed_at is None or time.monotonic() - failed_at >= wait:
            return None
        return (f"a GPU reservation on {node} reported no UUID; a new one is tried there "
                f"{wait:g}s after that")  # fmt: skip

    def _release(self, key: str) -> None:
        with self._lock:
            self._busy.discard(key)

    def _clean_reservations(self) -> None:
        gpu_map = self.cache.gpu_map
        with self._lock:
            busy = set(self._busy)
        idle = self.reservations.idle(
            dict(gpu_map.reservations), dict(gpu_map.users), busy, time.time()
        )
        for key in idle:
            self._submit(self._slow, self._delete_reservation, key)

    def _delete_reservation(self, key: str) -> None:
        try:
            self.reservations.delete(key)
        except IO_ERRORS as exc:
            log.info("could not delete idle reservation %s: %s", key, exc)

    # ------------------------------------------------------------ pending reasons

    def _report_pending(self, plan: CyclePlan) -> None:
        now = time.time()
        with self._lock:
            self._refusals = {w: r for w, r in self._refusals.items() if r.until > now}
            notes = [r.message for r in self._refusals.values()]
        pods_of = self.cache.gpu_map.workload_pods
        self.reporter.retain({p for pods in pods_of.values() for p in pods})
        for workload, reason in plan.pending.items():
            message = reason.message
            if notes and reason.code in WAITING_CODES:
                message += "; note: " + "; ".join(sorted(notes)[:3])
            for pod in pods_of.get(workload, ()):
                self.reporter.pending(pod, self._uid(pod), str(reason.code), message)

    def _uid(self, pod: str) -> str:
        obj = self.cache.pod(pod)
        return str((obj or {}).get("metadata", {}).get("uid", ""))

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.count(name)
