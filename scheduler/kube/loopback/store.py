"""The double's etcd: objects by resource, one global resourceVersion, a bounded history.

Owns what the apiserver's storage layer guarantees: every write bumps one cluster-wide
revision and stamps it as the object's `metadata.resourceVersion`; creates of an existing
name answer 409 AlreadyExists; an update whose resourceVersion is not the stored one answers
409 Conflict (optimistic concurrency); a watch starts from a revision and replays what came
after it, but only while that revision is still in the bounded history (the watch cache):
an older one is 410 Gone ("too old resource version"). Label and field selectors filter as
the apiserver does. It must not speak HTTP (server.py) nor know about binding or evictions
(rules.py).
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (resource, namespace or "", name)


class ApiError(Exception):
    """An error the apiserver answers as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    rv: int
    resource: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj


class Store:
    def __init__(self, history: int = 1000) -> None:
        self._objects: dict[Key, Obj] = {}
        self._rv = 1
        self._history: deque[Event] = deque(maxlen=history)
        self.changed = threading.Condition(threading.RLock())

    @property
    def lock(self) -> threading.Condition:
        return self.changed

    def revision(self) -> int:
        return self._rv

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects.get((resource, namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            return self._objects.get((resource, namespace, name))

    def query(
        self, resource: str, namespace: str | None, match: Callable[[Obj], bool]
    ) -> list[Obj]:
        with self.lock:
            return [
                copy.deepcopy(o)
                for (r, ns, _), o in sorted(self._objects.items())
                if r == resource and (namespace is None or ns == namespace) and match(o)
            ]

    def create(self, resource: str, namespace: str, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or ""
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
            meta["name"] = name
        if not name:
            raise ApiError(422, "Invalid", f"{resource}: metadata.name: Required value")
        with self.lock:
            key = (resource, namespace, name)
            if key in self._objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{resource} "{name}" already exists',
                    {"name": name, "kind": resource},
                )
            if namespace:
                meta["namespace"] = namespace
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta.setdefault("labels", {})
            meta.setdefault("annotations", {})
            return self._write(key, obj, "ADDED")

    def update(self, resource: str, namespace: str, obj: Obj, *, check_rv: bool = True) -> Obj:
        meta = obj.get("metadata", {})
        with self.lock:
            key = (resource, namespace, meta.get("name", ""))
            old = self._objects.get(key)
            if old is None:
                raise not_found(resource, key[2])
            # A PUT carrying a resourceVersion is a precondition (storage GuaranteedUpdate).
            sent = meta.get("resourceVersion")
            if check_rv and sent and sent != old["metadata"]["resourceVersion"]:
                # GuaranteedUpdate: a stale write loses, the client must re-read and retry.
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource} "{key[2]}": the object has '
                    f"been modified; please apply your changes to the latest version and try again",
                    {"name": key[2], "kind": resource},
                )
            for kept in ("uid", "creationTimestamp", "namespace"):
                if kept in old["metadata"]:
                    meta[kept] = old["metadata"][kept]
            return self._write(key, obj, "MODIFIED")

    def mutate(
        self, resource: str, namespace: str, name: str, change: Callable[[Obj], None]
    ) -> Obj:
        """Read-modify-write under the lock (what GuaranteedUpdate does for subresources)."""
        with self.lock:
            obj = self.get(resource, namespace, name)
            change(obj)
            return self.update(resource, namespace, obj, check_rv=False)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            key = (resource, namespace, name)
            old = self._objects.pop(key, None)
            if old is None:
                raise not_found(resource, name)
            self._rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._record(Event(self._rv, resource, "DELETED", gone))
            return gone

    def _write(self, key: Key, obj: Obj, kind: str) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        stored = copy.deepcopy(obj)
        self._objects[key] = stored
        self._record(Event(self._rv, key[0], kind, copy.deepcopy(stored)))
        return obj

    def _record(self, event: Event) -> None:
        self._history.append(event)
        self.changed.notify_all()

    def compact(self) -> None:
        """Forget the history, as etcd compaction does: older watches get 410 Gone."""
        with self.lock:
            self._history.clear()
            self._rv += 1

    def events_after(self, resource: str, rv: int) -> list[Event]:
        """Events of a resource after `rv`; 410 when `rv` is older than the history kept."""
        with self.lock:
            # The watch cache (apiserver/pkg/storage/cacher/watch_cache.go) answers a revision
            # older than its window with "too old resource version", HTTP 410 Gone.
            oldest = self._history[0].rv if self._history else self._rv + 1
            if rv < self._rv and rv < oldest - 1:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({oldest - 1})")
            return [e for e in self._history if e.rv > rv and e.resource == resource]


def not_found(resource: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource}
    )


# ----------------------------------------------------------------------- selectors

_REQ = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(selector: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, ch in enumerate(selector):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            yield selector[start:i]
            start = i + 1
    yield selector[start:]


def label_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """labels.Parse: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`."""
    if not selector:
        return lambda _: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in (p.strip() for p in _split(selector) if p.strip()):
        tests.append(_label_test(part))
    return lambda o: all(t(o["metadata"].get("labels") or {}) for t in tests)


def _label_test(part: str) -> Callable[[dict[str, str]], bool]:
    if (m := _REQ.match(part)) is not None:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if "!=" in part:
        key, value = (s.strip() for s in part.split("!=", 1))
        return lambda labels: labels.get(key) != value
    if "=" in part:
        key, value = (s.strip() for s in part.replace("==", "=").split("=", 1))
        return lambda labels: labels.get(key) == value
    if part.startswith("!"):
        return lambda labels: part[1:].strip() not in labels
    if not re.match(r"^[\w./-]+$", part):
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
    return lambda labels: part in labels


_FIELDS: dict[str, Callable[[Obj], str]] = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName") or "",
    "spec.schedulerName": lambda o: (o.get("spec") or {}).get("schedulerName") or "",
    "status.phase": lambda o: (o.get("status") or {}).get("phase") or "",
}


def field_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """fields.Parse over the fields the apiserver indexes for pods: `=`, `==`, `!=`."""
    if not selector:
        return lambda _: True
    tests: list[Callable[[Obj], bool]] = []
    for part in (p.strip() for p in selector.split(",") if p.strip()):
        negate = "!=" in part
        key, value = (s.strip() for s in re.split(r"!=|==|=", part, maxsplit=1))
        if key not in _FIELDS:
            raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
        tests.append(_field_test(_FIELDS[key], value, negate))
    return lambda o: all(t(o) for t in tests)


def _field_test(get: Callable[[Obj], str], value: str, negate: bool) -> Callable[[Obj], bool]:
    return lambda o: (get(o) != value) if negate else (get(o) == value)
