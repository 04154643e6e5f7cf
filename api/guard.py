"""ASGI guards in front of every route: who may send a body, how big, how many writes at
once, and how long any request may take.

Owns four bounds, enforced before FastAPI parses anything:
- a write (POST, PUT, PATCH, DELETE) without a valid bearer token gets 401 before a byte
  of its body is read;
- a body above the limit gets 413 (a small limit for quota writes, a larger one for the
  scheduler's `PUT /api/v1/status`), judged by Content-Length and by counting, so a
  chunked body cannot slip past;
- at most `write_slots` writes run at once per process; the rest wait in an async queue
  (no thread held) and get 503 with Retry-After when they waited too long;
- a request not answered within the deadline gets 503 with Retry-After (a database that
  hangs must not hang its clients); the late answer is dropped.
Every write's answer also carries an X-Request-Id (the caller's, if sane). It must not know roles
beyond "a valid token", render domain errors, or touch the database.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import TokenStore
from api.errors import RETRY_AFTER_S

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATUS_PATH = "/api/v1/status"


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    status_body_bytes: int
    write_slots: int
    write_queue_s: float
    deadline_s: float


async def _refuse(
    send: Send, status: int, reason: str, field: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps({"detail": [{"field": field, "reason": reason}]}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class Guard:
    def __init__(self, app: ASGIApp, *, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in WRITE_METHODS:
            await self._within_deadline(scope, receive, send)
        else:  # only writes are audited, so only they need an id to be matched by
            await self._write(scope, receive, _with_request_id(scope, send))

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._authenticated(scope):
            reason = "a valid bearer token is required (Authorization: Bearer TOKEN)"
            await _refuse(send, 401, reason, "Authorization", {"WWW-Authenticate": "Bearer"})
            return
        status = scope["path"] == STATUS_PATH
        limit = self.limits.status_body_bytes if status else self.limits.body_bytes
        body = await self._read_body(scope, receive, send, limit)
        if body is None:
            return
        slots = self._semaphore()
        if slots.locked():
            try:
                await asyncio.wait_for(slots.acquire(), self.limits.write_queue_s)
            except TimeoutError:
                await _refuse(
                    send, 503, f"{self.limits.write_slots} writes are in flight and this one "
                    f"waited {self.limits.write_queue_s:g} s for its turn; retry later",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
                return
        else:
            await slots.acquire()
        try:
            await self._within_deadline(scope, _replay(body, receive), send)
        finally:
            slots.release()

    def _authenticated(self, scope: Scope) -> bool:
        value = _header(scope, b"authorization")
        if value is None:
            return False
        scheme, _, token = value.decode("latin-1").partition(" ")
        store: TokenStore = scope["app"].state.tokens
        return scheme.lower() == "bearer" and store.principal(token.strip()) is not None

    async def _read_body(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> bytes | None:
        """The whole body, or None once a 413 (or 400) has been sent."""
        declared = _header(scope, b"content-length")
        too_big = f"the request body is larger than {limit} bytes, the limit of this endpoint"
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "Content-Length is not a number", "Content-Length")
                return None
            if int(declared) > limit:
                await _refuse(send, 413, too_big, "body", {"Connection": "close"})
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, too_big, "body", {"Connection": "close"})
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: tests run one app on several loops, one after another.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.limits.write_slots))
        return self._slots[1]

    async def _within_deadline(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = {"started": False, "answered": False}

        async def send_in_time(message: Message) -> None:
            if state["answered"]:
                return  # the 503 went out already; this late answer has no one to go to
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        async def answer_late() -> None:
            if state["started"]:
                return
            state["answered"] = True
            reason = (
                f"no answer within {self.limits.deadline_s:g} s (the database may be "
                "unreachable or overloaded); retry later"
            )
            await _refuse(send, 503, reason, headers={"Retry-After": str(RETRY_AFTER_S)})

        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task[None]] = set()

        def on_deadline() -> None:
            task = loop.create_task(answer_late())
            pending.add(task)  # kept referenced until it ran
            task.add_done_callback(pending.discard)

        timer = loop.call_later(self.limits.deadline_s, on_deadline)
        try:
            await self.app(scope, receive, send_in_time)
        except Exception:
            if not state["answered"]:
                raise  # a late failure after our 503 is nobody's business but the log's
        finally:
            timer.cancel()


def _with_request_id(scope: Scope, send: Send) -> Send:
    """A write's answer names its request (the caller's X-Request-Id if sane, else a new
    one), so a refusal in the audit log can be matched with what the caller saw."""
    given = _header(scope, b"x-request-id")
    ok = given is not None and 0 < len(given) <= 64 and given.isascii() and given.isalnum()
    request_id = given.decode() if ok and given is not None else uuid.uuid4().hex[:16]
    scope.setdefault("state", {})["request_id"] = request_id
    header = (b"x-request-id", request_id.encode())

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return send_with_id


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body over once, then waits as the real one."""
    delivered = False

    async def replay() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = dict(await receive())
        return message

    return replay
