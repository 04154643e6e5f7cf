"""The live scheduler: the same `SchedulingLoop` as the simulator, with Kubernetes ports.

Owns composing the adapters (cache, executor, reporter, reservations, leader election,
metrics) around `SchedulingLoop`, and the run loop: wait for the caches to sync, then cycle
whenever the cluster changed (or every `cycle_seconds`), only while holding the lease, never
letting one failed cycle stop the scheduler; on stop, hand the lease back. It also keeps the
`quotient-status` ConfigMap (per-project deserved, fair share, allocated) that `quotient
explain` reads. It must not decide (fairshare) nor parse command lines (the CLI does).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from fairshare.model import Policy
from fairshare.quota_tree import QuotaTree
from fairshare.resources import format_gpus
from scheduler.api_client import QuotaUnavailable
from scheduler.assume import AssumeCache
from scheduler.kube.cache import ClusterCache
from scheduler.kube.config import done
from scheduler.kube.events import PodReporter
from scheduler.kube.executor import KubeExecutor
from scheduler.kube.fractional import Reservations, ReservationSpec
from scheduler.kube.leader import LeaderElector
from scheduler.kube.metrics import HealthServer, Metrics
from scheduler.kube.snapshot import tree_to_json
from scheduler.loop import SchedulingLoop
from scheduler.ports import CycleObserver, CycleReport, QuotaSource

log = logging.getLogger(__name__)

STATUS_CONFIGMAP = "quotient-status"


class RecordingQuota:
    """Passes the quota tree through and remembers the last one, for the status ConfigMap."""

    def __init__(self, inner: QuotaSource) -> None:
        self.inner = inner
        self.last: QuotaTree | None = None

    def quota_tree(self) -> QuotaTree:
        self.last = self.inner.quota_tree()
        return self.last


class WallClock:
    def now(self) -> int:
        return int(time.time())


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RunConfig:
    scheduler_name: str = "quotient"
    namespace: str = "quotient-system"
    leader_elect: bool = True
    metrics_port: int | None = 8080
    cycle_seconds: float = 10.0
    min_cycle_gap_seconds: float = 0.2  # lets a burst of new pods land in one cycle
    identity: str = field(default_factory=default_identity)
    reservation: ReservationSpec = field(default_factory=ReservationSpec)
    watch_seconds: int = 300
    lease_seconds: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    bind_workers: int = 16


class LiveScheduler:
    def __init__(
        self,
        api: client.ApiClient,
        quotas: QuotaSource,
        policy: Policy,
        config: RunConfig,
        *,
        observers: Sequence[CycleObserver] = (),
        quota_stale: Callable[[], bool] = lambda: False,
        on_bound: Callable[[str, float], None] | None = None,
    ) -> None:
        self.config, self.api = config, api
        self.metrics = Metrics()
        self.cache = ClusterCache(
            api,
            scheduler_name=config.scheduler_name,
            namespace=config.namespace,
            watch_seconds=config.watch_seconds,
        )
        self.reporter = PodReporter(api, config.identity)
        spec = replace(config.reservation, namespace=config.namespace)
        self.reservations = Reservations(api, spec, self.cache.pod)
        self.elector = _elector(api, config)
        self.assumed = AssumeCache()
        self.executor = KubeExecutor(
            api,
            self.cache,
            self.reporter,
            self.reservations,
            metrics=self.metrics,
            assumed=self.assumed,
            is_leader=self.is_leader,
            bind_workers=config.bind_workers,
            on_bound=on_bound,
        )
        self.reporter.busy = self.executor.busy
        self.quotas = RecordingQuota(quotas)
        self.status = StatusConfigMap(api, config.namespace, self.is_leader, self.quotas)
        self.loop = SchedulingLoop(
            cluster=self.cache,
            quotas=self.quotas,
            executor=self.executor,
            clock=WallClock(),
            policy=policy,
            observers=(self.metrics, self.status, *observers),
            assumed=self.assumed,
        )
        self._quota_stale = quota_stale
        self.stop_event = threading.Event()
        self.cycles = 0
        self.health: HealthServer | None = None

    def is_leader(self) -> bool:
        return self.elector is None or self.elector.is_leader()

    def ready(self) -> bool:
        return self.cache.synced()

    def start(self) -> None:
        """Caches, lease and endpoints; `run()` (or `cycle()`) does the scheduling."""
        self.cache.start()
        if self.config.metrics_port is not None:
            self.health = HealthServer(self.metrics, self.ready, self.config.metrics_port)
            self.health.start()
        if self.elector is not None:
            elector = self.elector
            threading.Thread(
                target=elector.run,
                args=(self.stop_event, self._leader_changed),
                name="leader-election",
                daemon=True,
            ).start()

    def _leader_changed(self, leader: bool) -> None:
        self.metrics.leader.set(1 if leader else 0)
        self.cache.touch()  # wake the run loop: a new leader cycles at once

    def run(self) -> None:
        self.start()
        try:
            while not self.stop_event.is_set() and not self.cache.wait_synced(1.0):
                log.info("waiting for the caches to sync")
            seen, last = None, 0.0
            while not self.stop_event.is_set():
                periodic = time.monotonic() - last >= self.config.cycle_seconds
                # A change wakes a cycle only when some pod waits: a bound pod's update,
                # alone, gives the core nothing to decide. The periodic cycle covers the rest
                # (run-time limits, status).
                if self.is_leader() and (periodic or self.cache.has_pending()):
                    last = time.monotonic()
                    self.cycle()
                seen = self.cache.wait_for_change(self.config.cycle_seconds, seen)
                self.stop_event.wait(self.config.min_cycle_gap_seconds)
        finally:
            self.shutdown()

    def cycle(self) -> CycleReport | None:
        started = time.perf_counter()
        try:
            report = self.loop.run_cycle()
        except QuotaUnavailable as e:
            log.error("not scheduling: %s", e)
            return None
        except Exception:  # one broken cycle must not stop the scheduler
            log.exception("scheduling cycle failed; retrying")
            self.stop_event.wait(1.0)
            return None
        finally:
            self.metrics.cycle.observe(time.perf_counter() - started)
            self.metrics.quota_stale.set(1 if self._quota_stale() else 0)
        self.cycles += 1
        return report

    def shutdown(self) -> None:
        self.stop_event.set()
        self.executor.close()
        if self.elector is not None:
            self.elector.release()
            self.metrics.leader.set(0)
        self.cache.stop()
        self.reporter.close()
        if self.health is not None:
            self.health.stop()


def _elector(api: client.ApiClient, config: RunConfig) -> LeaderElector | None:
    if not config.leader_elect:
        return None
    return LeaderElector(
        api, config.namespace, config.identity, lease_seconds=config.lease_seconds,
        renew_deadline=config.renew_deadline, retry_period=config.retry_period,
    )  # fmt: skip


def _project_numbers(report: CycleReport) -> dict[str, dict[str, object]]:
    return {
        name: {
            "deserved_gpus": format_gpus(s.deserved_milli),
            "fair_share_gpus": format_gpus(s.fair_share_milli),
            "allocated_gpus": format_gpus(s.allocated_milli),
            "running": s.running,
            "pending": s.pending,
        }
        for name, s in sorted(report.plan.projects.items())
    }


class StatusConfigMap:
    """Writes each project's numbers to a ConfigMap for `quotient explain`, when they change
    and at most every `min_seconds`; only the leader writes."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        is_leader: Callable[[], bool],
        quotas: RecordingQuota,
        min_seconds: float = 10.0,
    ) -> None:
        self._core: Any = client.CoreV1Api(api)
        self.namespace, self._is_leader, self.min_seconds = namespace, is_leader, min_seconds
        self._last: tuple[str, float] = ("", 0.0)
        self._quotas = quotas

    def on_cycle(self, report: CycleReport) -> None:
        if not self._is_leader():
            return
        tree = self._quotas.last
        text = json.dumps(_project_numbers(report), sort_keys=True)
        quota = json.dumps(tree_to_json(tree) if tree is not None else {}, sort_keys=True)
        if text == self._last[0] and time.monotonic() - self._last[1] < self.min_seconds * 6:
            return
        if time.monotonic() - self._last[1] < self.min_seconds and self._last[0]:
            return
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": STATUS_CONFIGMAP, "namespace": self.namespace},
            "data": {"projects.json": text, "quota.json": quota, "cycle_at": str(report.at)},
        }
        if self._write(body):
            self._last = (text, time.monotonic())

    def _write(self, body: dict[str, Any]) -> bool:
        try:
            try:
                done(
                    self._core.replace_namespaced_config_map(
                        STATUS_CONFIGMAP,
                        self.namespace,
                        body,
                        _preload_content=False,
                        _request_timeout=5,
                    )
                )
            except ApiException as e:
                if e.status != 404:
                    raise
                done(
                    self._core.create_namespaced_config_map(
                        self.namespace, body, _preload_content=False, _request_timeout=5
                    )
                )
            return True
        except (ApiException, HTTPError, OSError) as exc:
            log.info("could not write %s: %s", STATUS_CONFIGMAP, exc)
            return False
