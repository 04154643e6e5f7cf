"""`quotient bench api`: latency and throughput of a real API server over loopback.

Owns the benchmark: start uvicorn in a child process on 127.0.0.1 (an ephemeral port, a
temporary SQLite file), seed projects, then run N concurrent httpx clients, first reading
`GET /api/v1/projects`, then PATCHing (each client its own projects, with If-Match from
its last response, so every PATCH must succeed). It reports p50/p99 per kind and requests
per second. It must not reach beyond 127.0.0.1 nor leave the server running.

The clients are synchronous `httpx.Client`s, one connection and one thread each, spread
over a few processes: a sync client costs about half the CPU of an async one, and
separate processes keep one interpreter lock from queueing every client's parsing. The
latency measured is what a client sees, end to end.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"


@dataclass(frozen=True)
class BenchConfig:
    projects: int = 200
    clients: int = 50
    reads_per_client: int = 100
    patches_per_client: int = 20
    workers: int = 1  # uvicorn worker processes
    client_processes: int = 0  # 0 = one per CPU
    page_size: int | None = None  # None = the API's default page
    warmup_per_client: int = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def api_server(db_url: str, tokens: str, workers: int = 1) -> Iterator[str]:
    """A uvicorn child process serving the API; yields its base URL once it is ready."""
    port = _free_port()
    env = {**os.environ, "QUOTIENT_DB_URL": db_url, "QUOTIENT_TOKENS": tokens}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app_from_env",
        "--host", HOST, "--port", str(port), "--log-level", "warning",
        "--workers", str(workers), "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env)
    url = f"http://{HOST}:{port}"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API server exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API server at {url} was not ready within {timeout_s}s")


def percentile_ms(samples: list[float], q: float) -> float:
    """Nearest-rank percentile of seconds, in milliseconds rounded for printing."""
    ordered = sorted(samples)
    rank = min(max(-(-len(ordered) * q // 100) - 1, 0), len(ordered) - 1)
    return round(ordered[int(rank)] * 1000, 2)


# ------------------------------------------------------------------ client side


@dataclass(frozen=True)
class _Job:
    """What one client process does: some clients (threads), each a list of requests."""

    url: str
    token: str
    kind: str  # "read" | "patch"
    per_client: int
    page_size: int | None
    owned: tuple[tuple[tuple[str, str], ...], ...]  # per client: (project, etag) pairs


def _read_client(http: httpx.Client, job: _Job, out: list[float]) -> None:
    params = {} if job.page_size is None else {"limit": job.page_size}
    for _ in range(job.per_client):
        start = time.perf_counter()
        response = http.get("/api/v1/projects", params=params)
        out.append(time.perf_counter() - start)
        response.raise_for_status()


def _patch_client(
    http: httpx.Client, job: _Job, owned: tuple[tuple[str, str], ...], out: list[float]
) -> None:
    etags = dict(owned)
    names = sorted(etags)
    for i in range(job.per_client):
        name = names[i % len(names)]
        start = time.perf_counter()
        response = http.patch(
            f"/api/v1/projects/{name}", json={"priority": i + 1},
            headers={"If-Match": etags[name]},
        )
        out.append(time.perf_counter() - start)
        response.raise_for_status()
        etags[name] = response.headers["ETag"]


def _run_job(job: _Job) -> list[float]:
    """In a client process: one thread per client, all started together."""
    results: list[list[float]] = [[] for _ in job.owned]
    errors: list[BaseException] = []
    start = threading.Barrier(len(job.owned))

    def client(index: int) -> None:
        with httpx.Client(base_url=job.url, headers={"Authorization": f"Bearer {job.token}"}) as h:
            h.get("/healthz").raise_for_status()  # connect before the clock starts
            start.wait()
            try:
                if job.kind == "read":
                    _read_client(h, job, results[index])
                else:
                    _patch_client(h, job, job.owned[index], results[index])
            except BaseException as exc:  # reported to the parent, which fails the bench
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(job.owned))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed, first: {errors[0]!r}")
    return [x for r in results for x in r]


def _phase(pool: ProcessPoolExecutor, jobs: list[_Job]) -> tuple[list[float], float]:
    start = time.perf_counter()
    results = list(pool.map(_run_job, jobs))
    return [x for r in results for x in r], time.perf_counter() - start


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]


def _seed(url: str, token: str, n: int) -> list[tuple[str, str]]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers) as http:
        out = []
        for i in range(n):
            name = f"bench-{i:05d}"
            response = http.post(
                "/api/v1/projects", json={"name": name, "deserved_gpus": (i % 8) + 0.5}
            )
            response.raise_for_status()
            out.append((name, response.headers["ETag"]))
        return out


def _measure(url: str, token: str, cfg: BenchConfig, processes: int) -> dict[str, Any]:
    seeded = _seed(url, token, cfg.projects)
    # Each client patches its own projects, so every If-Match it sends is current.
    clients = min(cfg.clients, len(seeded)) if cfg.clients > len(seeded) else cfg.clients
    owned = [tuple(seeded[i::clients]) for i in range(clients)]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:

        def jobs(kind: str, per_client: int, n_clients: int) -> list[_Job]:
            mine = _split(owned[:n_clients] if kind == "patch" else [()] * n_clients, processes)
            return [_Job(url, token, kind, per_client, cfg.page_size, tuple(m)) for m in mine]

        _phase(pool, jobs("read", cfg.warmup_per_client, cfg.clients))
        reads, read_s = _phase(pool, jobs("read", cfg.reads_per_client, cfg.clients))
        patches, patch_s = _phase(pool, jobs("patch", cfg.patches_per_client, clients))
    return {
        "projects": cfg.projects, "clients": cfg.clients, "client_processes": processes,
        "read_requests": len(reads), "patch_requests": len(patches),
        "read_p50_ms": percentile_ms(reads, 50), "read_p99_ms": percentile_ms(reads, 99),
        "patch_p50_ms": percentile_ms(patches, 50), "patch_p99_ms": percentile_ms(patches, 99),
        "read_requests_per_second": round(len(reads) / read_s, 1),
        "patch_requests_per_second": round(len(patches) / patch_s, 1),
        "requests_per_second": round((len(reads) + len(patches)) / (read_s + patch_s), 1),
    }


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    processes = cfg.client_processes or max(os.cpu_count() or 1, 1)
    processes = min(processes, cfg.clients)
    with tempfile.TemporaryDirectory(prefix="quotient-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with api_server(db_url, f"admin:{token}", cfg.workers) as url:
            result = _measure(url, token, cfg, processes)
    return {
        **result, "database": "sqlite", "server_workers": cfg.workers,
        "cpus": os.cpu_count(),
    }
