"""`quotient demo`: the API, its dashboard and the scheduler on an in-memory cluster, live.

Owns composing, in one process, what a newcomer needs to see Quotient work without a
cluster: the REST API (uvicorn in a thread, SQLite in a temporary directory, fresh random
tokens), the departments and projects of the demo created through that API, and the very
scheduling loop the live scheduler runs (`scheduler.loop.SchedulingLoop` with
`fairshare.decide`, unchanged) reading its quota tree from the API and reporting to it,
against `simulations.cluster.InMemoryCluster` on a real-time clock that may run faster
(`--speed 60`: a minute shows an hour). A seeded stream of submissions, deletions and quota
changes (`simulations.demo_workload`) keeps it busy until interrupted. It must not decide,
store or draw anything itself.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from scheduler.api_client import HttpQuotaSource, StatusReporter
from scheduler.loop import SchedulingLoop
from scheduler.ports import Clock, CycleReport
from simulations.cluster import InMemoryCluster
from simulations.demo_workload import (
    DEPARTMENTS,
    PROJECTS,
    DemoEvent,
    DemoWorkload,
    QuotaChange,
    Submit,
    demo_nodes,
)
from simulations.engine import EventQueue

MAX_CYCLES_PER_STEP = 5  # a cycle that evicted is followed by another, as in the simulator


class ScaledClock:
    """The loop's `Clock`: real seconds since start, times `speed`."""

    def __init__(self, speed: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._speed, self._monotonic = speed, monotonic
        self._start = monotonic()

    def now(self) -> int:
        return int((self._monotonic() - self._start) * self._speed)


@dataclass(frozen=True)
class Tokens:
    admin: str
    viewer: str
    scheduler: str

    @classmethod
    def fresh(cls) -> Tokens:
        return cls(*(secrets.token_hex(16) for _ in range(3)))

    def setting(self) -> str:
        return f"admin:{self.admin},viewer:{self.viewer},scheduler:{self.scheduler}"


class ApiThread:
    """The REST API served by uvicorn in a background thread, on a temporary SQLite file."""

    def __init__(self, host: str, port: int, tokens: Tokens, data_dir: Path) -> None:
        import uvicorn

        from api.app import create_app
        from api.settings import Settings

        settings = Settings(data_dir=data_dir, host=host, port=port, tokens=tokens.setting())
        config = uvicorn.Config(
            create_app(settings), host=host, port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self.thread: threading.Thread | None = None

    def start(self, timeout_s: float = 30.0) -> str:
        # Bound here, so a port in use is an OSError in this thread, not a log line in uvicorn's.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            where = f"{self.host}:{self.port}"
            raise RuntimeError(f"cannot listen on {where}: {exc.strerror}") from None
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="quotient-api", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start on {self.host} (port taken?)")
            time.sleep(0.02)
        port = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


def seed_quotas(http: httpx.Client) -> None:
    """Create the demo's departments and projects through the API, as an admin would."""
    for path, items in (("/api/v1/departments", DEPARTMENTS), ("/api/v1/projects", PROJECTS)):
        for item in items:
            response = http.post(path, json=item)
            if response.status_code >= 300:
                raise RuntimeError(f"POST {path} {item['name']}: {response.text}")


class DemoDriver:
    """Applies the generated events as their time comes and runs the loop after them."""

    def __init__(
        self, loop: SchedulingLoop, cluster: InMemoryCluster, clock: Clock,
        events: Iterator[DemoEvent], admin: httpx.Client,
    ) -> None:
        self.loop, self.cluster, self.clock = loop, cluster, clock
        self._events, self._admin = events, admin
        self._next: DemoEvent | None = next(events)
        self._finishes: EventQueue[tuple[str, int]] = EventQueue()
        self._durations: dict[str, int | None] = {}
        self._deletes: EventQueue[str] = EventQueue()
        self.quota_changes = 0

    def step(self) -> list[CycleReport]:
        """Everything due by now, then cycles until one evicts nothing."""
        now = self.clock.now()
        self._apply_due(now)
        reports = []
        for _ in range(MAX_CYCLES_PER_STEP):
            report = self.loop.run_cycle()
            reports.append(report)
            self._on_started(report, now)
            if not report.result.evicted:
                break
        return reports

    def _apply_due(self, now: int) -> None:
        # Room is freed before it is asked for, as in the simulator: finishes, deletes, submits.
        while (at := self._finishes.peek_time()) is not None and at <= now:
            for name, run_id in self._finishes.pop_due(at):
                self.cluster.finish(name, run_id)
        while (at := self._deletes.peek_time()) is not None and at <= now:
            for name in self._deletes.pop_due(at):
                self.cluster.delete(name)
        while self._next is not None and self._next.at <= now:
            event, self._next = self._next, next(self._events, None)
            if isinstance(event, Submit):
                self._submit(event)
            elif isinstance(event, QuotaChange):
                self._change_quota(event)

    def _submit(self, event: Submit) -> None:
        timed = event.workload
        self.cluster.add(timed.workload)
        self.cluster.submit(timed.workload.name)
        self._durations[timed.workload.name] = timed.duration
        if timed.delete_at is not None:
            self._deletes.push(timed.delete_at, 0, timed.workload.name)

    def _change_quota(self, event: QuotaChange) -> None:
        response = self._admin.patch(
            f"/api/v1/projects/{event.project}", json={"deserved_gpus": event.deserved_gpus}
        )
        if response.status_code < 300:
            self.quota_changes += 1

    def _on_started(self, report: CycleReport, now: int) -> None:
        for name in sorted({b.workload for b in report.result.bound}):
            duration = self._durations.get(name)
            if duration is not None:
                run_id = self.cluster.record(name).run_id
                self._finishes.push(now + duration, 0, (name, run_id))


@dataclass
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    speed: float = 60.0
    seed: int = 1
    cycle_seconds: float = 30.0  # scheduler seconds between cycles (real: / speed)


class Demo:
    """The whole demo; `start()` brings it up, `run()` keeps it going, `stop()` ends it."""

    def __init__(self, options: DemoOptions, clock: Clock | None = None) -> None:
        self.options = options
        self.tokens = Tokens.fresh()
        self._tmp = tempfile.TemporaryDirectory(prefix="quotient-demo-")
        self.api = ApiThread(options.host, options.port, self.tokens, Path(self._tmp.name))
        self._given_clock = clock
        self.clock: Clock = clock if clock is not None else ScaledClock(options.speed)
        self.url = ""
        self._clients: list[httpx.Client] = []
        self.driver: DemoDriver | None = None

    def _client(self, token: str) -> httpx.Client:
        client = httpx.Client(
            base_url=self.url, timeout=10.0, headers={"Authorization": f"Bearer {token}"}
        )
        self._clients.append(client)
        return client

    def start(self) -> str:
        self.url = self.api.start()
        admin = self._client(self.tokens.admin)
        seed_quotas(admin)
        if self._given_clock is None:  # scheduler time 0 is when scheduling starts
            self.clock = ScaledClock(self.options.speed)
        quotas = HttpQuotaSource(client=self._client(self.tokens.scheduler))
        cluster = InMemoryCluster(demo_nodes(), quotas.quota_tree(), self.clock)
        reporter = StatusReporter(client=self._client(self.tokens.scheduler), cluster=cluster)
        loop = SchedulingLoop(
            cluster=cluster, quotas=quotas, executor=cluster, clock=self.clock,
            observers=(reporter,),
        )
        events = DemoWorkload(self.options.seed).events()
        self.driver = DemoDriver(loop, cluster, self.clock, events, admin)
        self.driver.step()
        return self.url

    def dashboard_url(self) -> str:
        # The token rides in the fragment, which the browser never sends to a server.
        return f"{self.url}/#token={self.tokens.viewer}"

    def run(self, should_stop: Callable[[], bool], sleep: Callable[[float], object]) -> None:
        assert self.driver is not None, "start() first"
        interval = self.options.cycle_seconds / self.options.speed
        while not should_stop():
            sleep(interval)
            self.driver.step()

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.api.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
