"""Network faults for outage and attack tests: a TCP proxy that can blackhole or drop, a
raw HTTP sender that does not wait to finish its body, the process's memory, and a
/healthz prober that records how long each answer took.

The proxy sits between the API and PostgreSQL. `blackhole()` keeps every connection open
but forwards nothing more (a partition as the API sees it: sent bytes vanish, nothing
comes back); `drop()` closes every connection and refuses new ones; `heal()` forwards again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx


class FaultyProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.mode = "forward"  # forward | blackhole | drop
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "drop":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.1)
                if self.mode != "forward":
                    continue  # blackhole: bytes stay unread in the kernel, nothing is sent
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def drop(self) -> None:
        self.mode = "drop"
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()

    def heal(self) -> None:
        self.drop()  # connections stuck in the blackhole are gone for good, as after a real one
        self.mode = "forward"

    def close(self) -> None:
        self._stop.set()
        self.drop()
        self._listener.close()


def rss_mib() -> float:
    """Resident memory of this process (the in-process test server lives here too)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


@dataclass
class HealthProbe:
    """Polls /healthz in a thread while a test attacks; records each answer's latency."""

    url: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    status = http.get("/healthz").status_code
                    if status != 200:
                        self.failures.append(f"status {status}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.perf_counter() - start)
                self._stop.wait(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[HealthProbe]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=10)

    def worst(self) -> float:
        return max(self.latencies, default=0.0)


def raw_request(
    url: str, head: str, body_chunks: Iterator[bytes] = iter(()), timeout_s: float = 5
) -> tuple[int, bytes, int]:
    """Send a request head, then body chunks until the server answers; return (status,
    the whole answer, body bytes sent). The server may answer before the body is done."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        deadline = time.monotonic() + timeout_s
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
        while time.monotonic() < deadline and not _complete(answer):
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer, sent


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True
