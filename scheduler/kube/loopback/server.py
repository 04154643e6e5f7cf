"""The double's HTTP front: REST paths, verbs, list and watch, as kube-apiserver serves them.

Owns the URL layout (`/api/v1/...` for the core group, `/apis/GROUP/VERSION/...` for the
others, cluster-scoped nodes and namespaces, everything else namespaced), the verbs
(GET list/get, POST create, PUT update, PATCH merge/strategic, DELETE), errors as `Status`
bodies with their HTTP code, and watch: HTTP 200 with one JSON event per line, synthetic
ADDED events when no resourceVersion (or "0") is given, an ERROR event with a 410 Status
when the resourceVersion is older than the history, BOOKMARK events when
allowWatchBookmarks is set, and the stream ending at timeoutSeconds. `stop()`/`start()`
restart it on the same port with its state kept, as an apiserver restart over etcd would;
`inject()` makes the next matching requests fail. It must not hold object semantics
(store.py, rules.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scheduler.kube.loopback.rules import PODS, Rules, merge_patch
from scheduler.kube.loopback.store import (
    ApiError,
    Obj,
    Store,
    field_matcher,
    label_matcher,
)

CLUSTER_SCOPED = {"/nodes", "/namespaces"}
KINDS = {
    "pods": "Pod",
    "nodes": "Node",
    "namespaces": "Namespace",
    "configmaps": "ConfigMap",
    "events": "Event",
    "leases": "Lease",
    "poddisruptionbudgets": "PodDisruptionBudget",
}
_CORE = re.compile(r"^/api/v1(?P<rest>/.*)$")
_GROUP = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)(?P<rest>/.*)$")


@dataclass(frozen=True)
class Route:
    resource: str  # "GROUP/plural", "" for the core group
    api_version: str
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    sub: str | None  # binding | eviction | status


def route(path: str) -> Route:
    m = _CORE.match(path)
    group, version = ("", "v1") if m else ("", "")
    if m is None:
        m = _GROUP.match(path)
        if m is None:
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource {path}"
            )
        group, version = m.group("group"), m.group("version")
    parts = [p for p in m.group("rest").split("/") if p]
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        namespace, parts = parts[1], parts[2:]
    if not parts or parts[0] not in KINDS:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
    resource = f"{group}/{parts[0]}"
    api_version = f"{group}/{version}" if group else version
    return Route(
        resource,
        api_version,
        namespace,
        parts[1] if len(parts) > 1 else None,
        parts[2] if len(parts) > 2 else None,
    )


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    code: int
    times: int


class LoopbackApiServer:
    """Start with `start()`; `url` is what a kubeconfig's `server:` would say."""

    def __init__(
        self,
        *,
        history: int = 1000,
        bookmark_seconds: float = 1.0,
        grace_seconds: float = 0.0,
        port: int = 0,
    ) -> None:
        self.store = Store(history)
        self.rules = Rules(self.store, grace_seconds)
        self.bookmark_seconds = bookmark_seconds
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for tests
        self._faults: list[Fault] = []
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> LoopbackApiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self.stopping.clear()
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away as a restarting apiserver does: refuse connections, cut open watches."""
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        with self.store.lock:
            self.store.changed.notify_all()

    def close(self) -> None:
        self.stop()
        self.rules.close()

    def inject(self, method: str, path_regex: str, code: int, times: int = 1) -> None:
        """The next `times` requests of that method whose path matches fail with `code`."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path_regex), code, times))

    def fault_for(self, method: str, path: str) -> int | None:
        with self._lock:
            for f in self._faults:
                if f.method == method and f.times > 0 and f.pattern.search(path):
                    f.times -= 1
                    return f.code
        return None

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ------------------------------------------------------------ test helpers

    def put(self, resource: str, obj: Obj, namespace: str = "") -> Obj:
        """Create an object directly, as another client of the cluster would."""
        self.rules.default(resource, obj)
        return self.store.create(resource, namespace, obj)


class _Handler(BaseHTTPRequestHandler):
    api: LoopbackApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is reused
    disable_nagle_algorithm = True  # headers and body go out as they are written, no 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `api.requests` instead

    def handle(self) -> None:
        # The client went away (or the server is restarting): there is nothing to answer.
        with contextlib.suppress(OSError):
            super().handle()

    def setup(self) -> None:
        super().setup()
        self.api.track(self.connection, True)

    def finish(self) -> None:
        self.api.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.api.requests.append((method, url.path))
        try:
            code = self.api.fault_for(method, url.path)
            if code is not None:
                raise ApiError(
                    code, "InternalError" if code >= 500 else "Conflict", f"injected failure {code}"
                )
            body = self._body()
            r = route(url.path)
            if method == "GET" and query.get("watch") in ("true", "1"):
                self._watch(r, query)
                return
            status, out = _dispatch(self.api, method, r, query, body)
        except ApiError as e:
            status, out = e.code, e.status()
        except (ValueError, KeyError, TypeError) as e:
            status, out = 400, ApiError(400, "BadRequest", f"malformed request: {e}").status()
        self._send(status, out)

    def _body(self) -> Obj | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        data = json.loads(self.rfile.read(length))
        if not isinstance(data, dict):
            raise ApiError(415, "UnsupportedMediaType", "only JSON object bodies are served")
        return data

    def _send(self, status: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # ------------------------------------------------------------------ watch

    def _watch(self, r: Route, query: dict[str, str]) -> None:
        match = _matcher(query)
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._stream(r, query.get("resourceVersion") or "", match, timeout, bookmarks)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def _stream(self, r: Route, rv_text: str, match: Any, timeout: float, bookmarks: bool) -> None:
        store, api = self.api.store, self.api
        kind = KINDS[r.resource.split("/")[1]]
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + api.bookmark_seconds
        with store.lock:
            rv = store.revision() if rv_text in ("", "0") else int(rv_text)
            if rv_text in ("", "0"):  # "start at most recent": the current state as ADDED
                for obj in store.query(r.resource, r.namespace, match):
                    self._chunk({"type": "ADDED", "object": _typed(obj, r, kind)})
        while not api.stopping.is_set():
            with store.lock:
                try:
                    events = store.events_after(r.resource, rv)
                    if not events:
                        left = min(deadline, next_bookmark) - time.monotonic()
                        store.changed.wait(max(left, 0.001))
                        events = store.events_after(r.resource, rv)
                except ApiError as e:
                    self._chunk({"type": "ERROR", "object": e.status()})
                    return
                reached = store.revision()  # every event up to here is in `events`
            for event in events:
                if (
                    r.namespace is None or event.obj["metadata"].get("namespace") == r.namespace
                ) and match(event.obj):
                    self._chunk({"type": event.type, "object": _typed(event.obj, r, kind)})
            rv = reached
            now = time.monotonic()
            if now >= deadline:
                return
            if bookmarks and now >= next_bookmark:
                # A bookmark carries only the revision the watch has reached.
                self._chunk(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": kind,
                            "apiVersion": r.api_version,
                            "metadata": {"resourceVersion": str(rv)},
                        },
                    }
                )
                next_bookmark = now + api.bookmark_seconds

    def _chunk(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def _matcher(query: dict[str, str]) -> Any:
    labels = label_matcher(query.get("labelSelector"))
    fields = field_matcher(query.get("fieldSelector"))
    return lambda o: labels(o) and fields(o)


def _typed(obj: Obj, r: Route, kind: str) -> Obj:
    return {"kind": kind, "apiVersion": r.api_version, **obj}


def _dispatch(
    api: LoopbackApiServer, method: str, r: Route, query: dict[str, str], body: Obj | None
) -> tuple[int, Obj]:
    store, rules = api.store, api.rules
    kind = KINDS[r.resource.split("/")[1]]
    ns = r.namespace or ""
    if r.resource in CLUSTER_SCOPED and r.namespace is not None and r.resource != "/namespaces":
        raise ApiError(404, "NotFound", f"{r.resource} is cluster-scoped")
    if method == "GET" and r.name is None:
        with store.lock:
            items = [
                _typed(o, r, kind) for o in store.query(r.resource, r.namespace, _matcher(query))
            ]
            rv = str(store.revision())
        return 200, {
            "kind": f"{kind}List",
            "apiVersion": r.api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }
    if method == "POST" and r.sub in ("binding", "eviction") and r.resource == PODS:
        if body is None:
            raise ApiError(400, "BadRequest", "a body is required")
        call = rules.bind if r.sub == "binding" else rules.evict
        assert r.name is not None
        return 201, call(ns, r.name, body)
    if method == "POST" and r.name is None:
        if body is None:
            raise ApiError(400, "BadRequest", "a body is required")
        _check_namespace(api, r)
        rules.default(r.resource, body)
        return 201, _typed(store.create(r.resource, ns, body), r, kind)
    if r.name is None:
        raise ApiError(405, "MethodNotAllowed", f"{method} needs a name")
    return _item(api, method, r, body, kind)


def _item(
    api: LoopbackApiServer, method: str, r: Route, body: Obj | None, kind: str
) -> tuple[int, Obj]:
    store, rules, ns, name = api.store, api.rules, r.namespace or "", r.name or ""
    if r.resource == "/namespaces" and r.namespace is None:
        ns = ""
    if method == "GET":
        return 200, _typed(store.get(r.resource, ns, name), r, kind)
    if method == "DELETE":
        gone = (
            rules.delete_pod(ns, name) if r.resource == PODS else store.delete(r.resource, ns, name)
        )
        return 200, _typed(gone, r, kind)
    if body is None:
        raise ApiError(400, "BadRequest", "a body is required")
    if method == "PUT":
        if (body.get("metadata") or {}).get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
        return 200, _typed(store.update(r.resource, ns, body), r, kind)
    if r.sub == "status" and r.resource == PODS:
        return 200, _typed(rules.patch_status(ns, name, body), r, kind)
    patched = store.mutate(r.resource, ns, name, lambda o: o.update(merge_patch(o, body)))
    return 200, _typed(patched, r, kind)


def _check_namespace(api: LoopbackApiServer, r: Route) -> None:
    """Creating into a namespace that does not exist is 404, as the NamespaceLifecycle
    admission plugin answers."""
    if r.namespace and api.store.find("/namespaces", "", r.namespace) is None:
        raise ApiError(404, "NotFound", f'namespaces "{r.namespace}" not found')
