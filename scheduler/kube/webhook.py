"""The mutating admission webhook's HTTPS server: AdmissionReview in, AdmissionReview out.

Owns serving `admission.review` over TLS with the standard library (`http.server` and
`ssl`): `POST /mutate` answers the API server, `GET /healthz` answers probes. The TLS
handshake runs in the connection's own thread, so a slow client cannot stall the others,
and the certificate pair is reloaded when its files change (a Secret volume or cert-manager
rotating it), without a restart. It must not decide what a pod becomes (admission.py) nor
talk to the Kubernetes API: the webhook needs no RBAC at all.

Why the standard library and not uvicorn: this server has one route, must reload its
certificate in place, and runs beside other code without an event loop to share; the
standard library's threaded server and `ssl.SSLContext` do exactly that, and they are the
same well-kept code the Prometheus client's own HTTP server uses.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from scheduler.kube.admission import review

log = logging.getLogger(__name__)

CERT_FILE = "tls.crt"  # the keys of a kubernetes.io/tls Secret
KEY_FILE = "tls.key"
MAX_BODY = 3 * 1024 * 1024  # the API server's own limit on a request body
SOCKET_TIMEOUT = 10.0  # seconds; the API server's default webhook timeout is 10


class CertificateError(ValueError):
    """The certificate directory cannot be served; says which file and why."""


class ReloadingContext:
    """A server-side SSLContext that follows its certificate files as they are rotated."""

    def __init__(self, cert_dir: Path) -> None:
        self.cert, self.key = cert_dir / CERT_FILE, cert_dir / KEY_FILE
        self._lock = threading.Lock()
        self._stamp = self._mtimes()
        self._context = self._load()

    def current(self) -> ssl.SSLContext:
        stamp = self._mtimes()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._context = self._load()
                        self._stamp = stamp
                        log.info("reloaded the webhook certificate from %s", self.cert)
                    except CertificateError as e:  # half-written rotation: keep the old pair
                        log.warning("%s; still serving the previous certificate", e)
        return self._context

    def _mtimes(self) -> tuple[float, float]:
        try:
            return (self.cert.stat().st_mtime, self.key.stat().st_mtime)
        except OSError as e:
            raise CertificateError(f"{e.filename}: cannot read it: {e.strerror}") from None

    def _load(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as e:
            raise CertificateError(f"{self.cert} / {self.key}: not a usable pair: {e}") from None
        return context


class WebhookServer(ThreadingHTTPServer):
    """Serves the webhook over TLS until `shutdown()`; each connection in its own thread."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], cert_dir: Path, scheduler_name: str) -> None:
        self.tls = ReloadingContext(cert_dir)
        self.scheduler_name = scheduler_name
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's thread: the handshake happens here, not in accept().
        request.settimeout(SOCKET_TIMEOUT)
        try:
            wrapped = self.tls.current().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.debug("TLS handshake with %s failed: %s", client_address, e)
            return
        super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request is routine, not a traceback on stderr.
        log.debug("connection from %s ended badly", client_address, exc_info=True)

    def start(self, poll_interval: float = 0.5) -> threading.Thread:
        """Serve in a background thread; `shutdown()` returns within `poll_interval`."""
        thread = threading.Thread(
            target=self.serve_forever, args=(poll_interval,), name="quotient-webhook", daemon=True
        )
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"  # keep-alive: the API server reuses its connections

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/healthz", "/readyz"):
            self._send(HTTPStatus.OK, {"status": "ok"})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/mutate":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "Content-Length: a JSON body is required"})
            return
        try:
            answer = review(json.loads(self.rfile.read(length)), self.server.scheduler_name)
        except (ValueError, UnicodeDecodeError) as e:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(e)})
            return
        except Exception:  # a bug must fail this admission (closed), not the server
            log.exception("admission review failed")
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
            return
        self._send(HTTPStatus.OK, answer)

    def _send(self, status: HTTPStatus, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def make_server(
    cert_dir: Path, host: str = "0.0.0.0", port: int = 8443, scheduler_name: str = "quotient"
) -> WebhookServer:
    """A bound server (port 0 picks a free one); raises CertificateError for a bad cert dir."""
    server = WebhookServer((host, port), cert_dir, scheduler_name)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return server
