"""Prometheus metrics and the health endpoints of the live scheduler.

Owns one `CollectorRegistry` per scheduler (built in main, never a module-level global):
per-project deserved, fair share, allocated and pending GPUs; the cycle duration histogram;
binds, bind failures, evictions and refused evictions; leader state; whether the quota tree
is the last good one because the API is down; and a small HTTP server answering /metrics,
/healthz (the process is alive) and /readyz (the caches are synced). It is a CycleObserver.
It must not decide or talk to Kubernetes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from fairshare.resources import milli_to_float
from scheduler.ports import CycleReport

COUNTERS = {
    "binds": "Pods bound",
    "bind_failures": "Binds that failed and were forgotten",
    "evictions": "Pods evicted through the Eviction API",
    "evictions_refused": "Evictions refused (429) by a PodDisruptionBudget",
    "eviction_failures": "Evictions that failed for another reason",
}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.counters = {
            name: Counter(f"quotient_{name}", text, registry=r) for name, text in COUNTERS.items()
        }
        labels = ["project"]
        self.deserved = Gauge("quotient_project_deserved_gpus", "Deserved GPUs", labels, registry=r)
        self.fair = Gauge("quotient_project_fair_share_gpus", "Fair share GPUs", labels, registry=r)
        self.allocated = Gauge(
            "quotient_project_allocated_gpus", "Allocated GPUs", labels, registry=r
        )
        self.pending = Gauge(
            "quotient_project_pending_workloads", "Pending workloads", labels, registry=r
        )
        self.pending_gpus = Gauge(
            "quotient_project_pending_gpus",
            "GPUs its pending workloads ask for (demand beyond what it holds, within its limit)",
            labels,
            registry=r,
        )
        self.cycle = Histogram(
            "quotient_cycle_seconds", "Duration of one scheduling cycle", registry=r
        )
        self.leader = Gauge("quotient_leader", "1 while this replica holds the lease", registry=r)
        self.quota_stale = Gauge(
            "quotient_quota_tree_stale",
            "1 while the last good quota tree is used (API down)",
            registry=r,
        )

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name].inc(amount)

    def on_cycle(self, report: CycleReport) -> None:
        for name, s in report.plan.projects.items():
            self.deserved.labels(name).set(milli_to_float(s.deserved_milli))
            self.fair.labels(name).set(milli_to_float(s.fair_share_milli))
            self.allocated.labels(name).set(milli_to_float(s.allocated_milli))
            self.pending.labels(name).set(s.pending)
            waiting = max(s.demand_milli - s.allocated_milli, 0) if s.pending else 0
            self.pending_gpus.labels(name).set(milli_to_float(waiting))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """/metrics, /healthz, /readyz on `port` (0 = any free port, see `port` after start)."""

    def __init__(self, metrics: Metrics, ready: Callable[[], bool], port: int) -> None:
        self.metrics, self.ready = metrics, ready
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.answer(self)

        self._httpd = ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        if h.path == "/metrics":
            code, body, kind = 200, self.metrics.render(), CONTENT_TYPE_LATEST
        elif h.path == "/healthz":
            code, body, kind = 200, b"ok\n", "text/plain"
        elif h.path == "/readyz":
            ok = self.ready()
            code, body, kind = (
                (200, b"ok\n", "text/plain") if ok else (503, b"not synced\n", "text/plain")
            )
        else:
            code, body, kind = 404, b"not found\n", "text/plain"
        h.send_response(code)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def start(self) -> None:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
