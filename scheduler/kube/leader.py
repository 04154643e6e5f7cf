"""Leader election over a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does.

Owns one Lease (`quotient-scheduler` in the scheduler's namespace): acquire it when it is
free, released, or its holder has not renewed within the lease duration as *this* replica
observed it (local time of the last change seen, so clocks need not agree); renew it every
retry period with an optimistic PUT (a 409 means another replica won); consider itself
leader only until the last successful renew plus the renew deadline, which is shorter than
the lease duration, so a partitioned leader stops binding before anyone else may start.
`release()` hands the lease back on SIGTERM so a successor need not wait. It must not
schedule anything: the runner asks `is_leader()`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.kube.config import done
from scheduler.kube.events import micro_time

log = logging.getLogger(__name__)

LEASE_NAME = "quotient-scheduler"


class LeaderElector:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        identity: str,
        *,
        name: str = LEASE_NAME,
        lease_seconds: float = 15,
        renew_deadline: float = 10,
        retry_period: float = 2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api: Any = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_deadline = lease_seconds, renew_deadline
        self.retry_period = retry_period
        self._monotonic = monotonic
        self._renewed_at: float | None = None  # our last successful acquire/renew
        self._observed: tuple[str, float] | None = None  # (record seen, when we saw it change)
        self.transitions = 0
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        with self._lock:
            at = self._renewed_at
        return at is not None and self._monotonic() - at < self.renew_deadline

    def run(
        self, stop: threading.Event, on_change: Callable[[bool], None] = lambda _: None
    ) -> None:
        was = False
        while not stop.is_set():
            self.try_acquire_or_renew()
            now = self.is_leader()
            if now != was:
                log.info(
                    "%s %s the lease %s/%s",
                    self.identity,
                    "holds" if now else "does not hold",
                    self.namespace,
                    self.name,
                )
                on_change(now)
                was = now
            stop.wait(self.retry_period)

    def try_acquire_or_renew(self) -> bool:
        try:
            lease = self._read()
            if lease is None:
                return self._write(None)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            record = json.dumps(spec, sort_keys=True)
            now = self._monotonic()
            if self._observed is None or self._observed[0] != record:
                self._observed = (record, now)
            valid = now - self._observed[1] < float(spec.get("leaseDurationSeconds") or 0)
            if holder and holder != self.identity and valid:
                self._lost()
                return False
            return self._write(lease)
        except (ApiException, HTTPError, OSError, ValueError) as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            return False

    def release(self) -> None:
        """Give the lease up (holder cleared), so a successor takes over at once."""
        if not self.is_leader():
            return
        try:
            lease = self._read()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"].update(
                {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time()}
            )
            done(
                self._api.replace_namespaced_lease(
                    self.name, self.namespace, lease, _preload_content=False
                )
            )
        except (ApiException, HTTPError, OSError) as exc:
            log.warning("could not release the lease: %s", exc)
        self._lost()

    def _read(self) -> dict[str, Any] | None:
        try:
            response = self._api.read_namespaced_lease(
                self.name, self.namespace, _preload_content=False, _request_timeout=5
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        data: dict[str, Any] = json.loads(response.data)
        return data

    def _write(self, lease: dict[str, Any] | None) -> bool:
        now = micro_time()
        spec = dict((lease or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (lease is not None)
        spec.update(
            {
                "holderIdentity": self.identity,
                "renewTime": now,
                "leaseDurationSeconds": int(self.lease_seconds),
            }
        )
        try:
            if lease is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": spec,
                }
                done(
                    self._api.create_namespaced_lease(
                        self.namespace, body, _preload_content=False, _request_timeout=5
                    )
                )
            else:
                lease["spec"] = spec  # metadata keeps its resourceVersion: a stale PUT is 409
                done(
                    self._api.replace_namespaced_lease(
                        self.name, self.namespace, lease, _preload_content=False, _request_timeout=5
                    )
                )
        except ApiException as e:
            if e.status == 409:  # another replica wrote first
                self._lost()
                return False
            raise
        with self._lock:
            self._renewed_at = self._monotonic()
        return True

    def _lost(self) -> None:
        with self._lock:
            self._renewed_at = None
