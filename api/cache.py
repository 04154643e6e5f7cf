"""Rendered read responses, keyed by the generation they were rendered at.

Owns a small, thread-safe LRU of JSON bodies. A key always includes the database's
generation, which every write bumps, so an entry can never be served after the data
changed: reads stay correct across API replicas (each checks the generation in the
database) while the common case skips the query and the serialisation. It must not decide
what to cache or read the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class RenderCache:
    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        with self._lock:
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
