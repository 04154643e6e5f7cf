"""Telling people what happened to their pods: Events, and the PodScheduled condition.

Owns the events.k8s.io/v1 Events the scheduler writes (Scheduled naming the node and, for a
fraction, the GPU; FailedScheduling with the pending reason; Reclaimed/Preempted saying who
evicted a pod and why; EvictionRefused when a PodDisruptionBudget said no), each with the
fields that API requires (eventTime, reportingController, reportingInstance, action), and
the `PodScheduled=False` condition of a pending pod with the core's reason and message.
Both are rate-limited: one per pod per change of reason, never one per cycle. Writes go
through a small pool so reporting never delays a decision or a bind; failures are logged,
never raised. It must not decide or bind anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.kube.config import done

log = logging.getLogger(__name__)

CONTROLLER = "quotient.io/scheduler"
MAX_NOTE = 1000  # the API rejects notes over 1 kB
MAX_DEFER_SECONDS = 5.0  # reports yield to binds, but never for longer than this


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PodReporter:
    def __init__(
        self,
        api: client.ApiClient,
        identity: str,
        workers: int = 1,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._core: Any = client.CoreV1Api(api)
        self._events: Any = client.EventsV1Api(api)
        self._identity = identity
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="events")
        self._last: dict[str, tuple[str, str]] = {}  # pod -> (code, message) last reported
        self._queued: dict[str, tuple[str, str]] = {}  # pod -> condition waiting to be sent
        self._lock = threading.Lock()
        self.failures = 0
        self.busy = busy  # while binds are queued, reports wait (binds come first)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def event(self, pod: str, uid: str, kind: str, reason: str, action: str, note: str) -> None:
        self._pool.submit(self._post_event, pod, uid, kind, reason, action, note)

    def pending(self, pod: str, uid: str, code: str, message: str) -> None:
        """Condition and FailedScheduling event, only when the reason changed."""
        with self._lock:
            if self._last.get(pod) == (code, message):
                return
            code_changed = (self._last.get(pod) or ("", ""))[0] != code
            self._last[pod] = (code, message)
            queued = pod in self._queued
            self._queued[pod] = (code, message)  # a newer reason replaces one not yet sent
        if not queued:
            self._pool.submit(self._flush_condition, pod)
        if code_changed:
            self.event(pod, uid, "Warning", "FailedScheduling", "Scheduling", f"{code}: {message}")

    def retain(self, live: set[str]) -> None:
        """Drop what was last said about pods that are gone."""
        with self._lock:
            self._last = {p: said for p, said in self._last.items() if p in live}

    def forget(self, pod: str) -> None:
        with self._lock:
            self._last.pop(pod, None)

    def _flush_condition(self, pod: str) -> None:
        with self._lock:
            latest = self._queued.pop(pod, None)
        if latest is not None:
            self._patch_condition(pod, *latest)

    def _patch_condition(self, pod: str, code: str, message: str) -> None:
        namespace, name = pod.split("/", 1)
        body = {
            "status": {
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": code,
                        "message": message,
                        "lastTransitionTime": micro_time()[:19] + "Z",
                    }
                ]
            }
        }
        self._call(self._core.patch_namespaced_pod_status, name, namespace, body)

    def _post_event(
        self, pod: str, uid: str, kind: str, reason: str, action: str, note: str
    ) -> None:
        namespace, name = pod.split("/", 1)
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "eventTime": micro_time(),
            "reportingController": CONTROLLER,
            "reportingInstance": self._identity,
            "action": action,
            "reason": reason,
            "note": note[:MAX_NOTE],
            "type": kind,
            "regarding": {
                "kind": "Pod",
                "apiVersion": "v1",
                "namespace": namespace,
                "name": name,
                "uid": uid,
            },
        }
        self._call(self._events.create_namespaced_event, namespace, body)

    def _call(self, method: Any, *args: Any) -> None:
        deadline = time.monotonic() + MAX_DEFER_SECONDS
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            done(method(*args, _preload_content=False, _request_timeout=10))
        except (ApiException, HTTPError, OSError, ValueError) as exc:
            self.failures += 1
            log.info("could not report to the API: %s", exc)
