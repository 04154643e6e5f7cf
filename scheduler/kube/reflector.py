"""List-and-watch one resource into a local store, as client-go's Reflector does.

Owns the loop: list (its `metadata.resourceVersion` is where the watch starts), watch from
the last revision seen (events, and BOOKMARK events that only move the revision), rewatch
when the server ends the stream at timeoutSeconds, relist when the server answers 410 Gone
(the revision left its history), and back off exponentially, with jitter, while the server
is unreachable, keeping the store as it was (a restart must not make pods vanish). Watch
lines are parsed here from the raw response rather than through `watch.Watch().stream`:
with `deserialize=False`, kubernetes 37 raises KeyError('raw_object') on a 410 instead of
an ApiException, so a resume loop around it never relists. It must not translate objects
(translate.py) nor decide anything; it calls `on_change` after every change it applies.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.kube.config import done
from scheduler.kube.translate import Obj, key_of

log = logging.getLogger(__name__)

ListCall = Callable[..., Any]  # a client list method, e.g. CoreV1Api.list_node


class Gone(Exception):
    """The watch's revision is older than the server's history: relist."""


class Reflector:
    def __init__(
        self,
        name: str,
        list_call: ListCall,
        on_change: Callable[[], None],
        lock: threading.RLock,
        *,
        watch_seconds: int = 300,
        backoff_cap: float = 5.0,
        label_selector: str = "",
    ) -> None:
        self.name = name
        self.items: dict[str, Obj] = {}
        self.synced = threading.Event()
        self.relists = 0  # for tests and metrics: how often the store was rebuilt from a list
        self.errors = 0
        self._list = list_call
        self._on_change = on_change
        self._lock = lock
        self._watch_seconds = watch_seconds
        self._backoff_cap = backoff_cap
        self._selector = label_selector
        self._stop = threading.Event()
        self._rv = ""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"reflector-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if not self._rv:
                    self._relist()
                self._watch()
                failures = 0
            except Gone:
                log.info("%s: resourceVersion %s is gone (410); relisting", self.name, self._rv)
                self._rv = ""
            except Exception as exc:  # a reflector must outlive anything the server sends
                failures += 1
                self.errors += 1
                delay = min(self._backoff_cap, 0.1 * 2**failures) * (0.5 + random.random() / 2)
                known = isinstance(exc, ApiException | HTTPError | OSError | ValueError)
                log.log(
                    logging.WARNING if known else logging.ERROR,
                    "%s: list/watch failed (%r); retrying in %.2fs",
                    self.name,
                    exc,
                    delay,
                )
                if isinstance(exc, ApiException) and exc.status == 410:
                    self._rv = ""
                self._stop.wait(delay)

    def list_once(self) -> None:
        """One list into the store, for one-shot commands that need no watch."""
        self._relist()

    def _relist(self) -> None:
        response = self._list(
            label_selector=self._selector, _preload_content=False, _request_timeout=30
        )
        body = json.loads(done(response))
        fresh = {key_of(o): o for o in body.get("items") or []}
        with self._lock:
            self.items = fresh
            self._rv = body["metadata"]["resourceVersion"]
            self.relists += 1
        self.synced.set()
        self._on_change()

    def _watch(self) -> None:
        response = self._list(
            watch=True,
            resource_version=self._rv,
            allow_watch_bookmarks=True,
            timeout_seconds=self._watch_seconds,
            label_selector=self._selector,
            _preload_content=False,
            _request_timeout=(10, self._watch_seconds + 30),
        )
        try:
            for event in _lines(response):
                if self._stop.is_set():
                    return
                self._apply(event)
        finally:
            response.close()  # a watch cut short has unread bytes: never reuse its connection

    def _apply(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise ValueError(f"watch error: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        with self._lock:
            if kind in ("ADDED", "MODIFIED"):
                self.items[key_of(obj)] = obj
            elif kind == "DELETED":
                self.items.pop(key_of(obj), None)
            if rv:
                self._rv = rv
        if kind != "BOOKMARK":
            self._on_change()


def _lines(response: Any) -> Iterator[Obj]:
    """JSON events, one per line, however the chunks happen to split them."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)
