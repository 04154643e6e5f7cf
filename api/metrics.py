"""Prometheus gauges of the live status, read from the database on every scrape.

Owns the metric names and labels (per project: deserved, fair share, allocated, demand,
running and pending workloads; per cluster: total, allocated and idle GPUs; the quota
generation and the last report's time). A collector on the app's own registry reads the
stored status when scraped, so every API replica exports the same numbers. It must not
keep state of its own or register on prometheus_client's global registry.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.db.engine import Database
from api.store import status, tree

_PROJECT_GAUGES = (
    ("deserved_gpus", "Configured guaranteed GPUs"),
    ("fair_share_gpus", "Fair share computed by the scheduler's last cycle"),
    ("allocated_gpus", "GPUs the project holds after the last cycle"),
    ("demand_gpus", "GPUs the project wants (running plus pending, capped by its limit)"),
)


class StatusCollector(Collector):
    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterable[Metric]:
        snap = status.snapshot(self._db)
        for attr, help_text in _PROJECT_GAUGES:
            gauge = GaugeMetricFamily(f"quotient_project_{attr}", help_text, labels=["project"])
            for p in snap.projects:
                gauge.add_metric([p.name], float(getattr(p, attr)))
            yield gauge
        for attr, help_text in (("running", "Running"), ("pending", "Pending")):
            gauge = GaugeMetricFamily(
                f"quotient_project_{attr}_workloads", f"{help_text} workloads", labels=["project"]
            )
            for p in snap.projects:
                gauge.add_metric([p.name], getattr(p, attr))
            yield gauge
        cluster = status.cluster_out(snap)
        for attr in ("total_gpus", "allocated_gpus", "idle_gpus"):
            yield GaugeMetricFamily(
                f"quotient_cluster_{attr}", f"Cluster {attr.replace('_', ' ')}",
                value=float(getattr(cluster, attr)),
            )
        reported = 0.0 if snap.reported_at is None else snap.reported_at.timestamp()
        yield GaugeMetricFamily(
            "quotient_status_reported_timestamp_seconds",
            "When the scheduler last reported a cycle (0 = never)", value=reported,
        )
        yield GaugeMetricFamily(
            "quotient_quota_generation", "Generation of the quota tree (bumped by every write)",
            value=tree.generation(self._db),
        )


def build_registry(db: Database) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(db))
    return registry
