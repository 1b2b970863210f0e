"""Servers on 127.0.0.1 for the HTTP backend's tests: the reference API (``backends serve``'s
app under uvicorn, in a thread) and a faulty one.

The faulty server picks its fault from the first path segment, so one system's URL can
point at it (``CARRIER_API_URL=http://…/500``) while the others use the reference API:

- ``500``: HTTP 500 every time;  ``429``: 429 with ``Retry-After: 1`` every time
- ``flaky429``: 429 with ``Retry-After: 1`` to the first request of each path, then the
  reference API's answer (proxied)
- ``hang``: reads the request and never answers;  ``reset``: headers promising a body, part of
  it, then the connection closed
- ``malformed``: 200 whose body is not JSON;  ``404``: a 404 that is not the contract's
  not-found (a wrong base URL)
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

from order_tracking.backends import Backends
from order_tracking.core.listen import bind
from order_tracking.http.backend_api import create_backends_app


class ReferenceServer:
    """``create_backends_app(backends)`` under uvicorn on a free loopback port."""

    def __init__(self, backends: Backends, api_keys: tuple[str, ...] = ()) -> None:
        self._sock = bind("127.0.0.1", 0)  # ours: TCP_NODELAY on every connection
        config = uvicorn.Config(
            create_backends_app(backends, api_keys=api_keys), log_level="critical"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()
        return f"http://{host}:{port}"

    def __enter__(self) -> ReferenceServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _FaultServer

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        _, mode, rest = self.path.split("/", 2)
        with self.server.lock:
            self.server.counts[mode] += 1
            self.server.seen[self.path] += 1
            first = self.server.seen[self.path] == 1
        if mode == "500":
            self._send(500, b'{"detail": "boom"}')
        elif mode == "429" or (mode == "flaky429" and first):
            self._send(429, b'{"detail": "slow down"}', {"Retry-After": "1"})
        elif mode == "flaky429":
            try:
                with urllib.request.urlopen(self.server.reference + "/" + rest) as answer:
                    self._send(answer.status, answer.read())
            except urllib.error.HTTPError as exc:
                self._send(exc.code, exc.read())
        elif mode == "hang":
            self.server.stopping.wait()
        elif mode == "reset":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "500")
            self.end_headers()
            self.wfile.write(b'{"order_id": "ORD-')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif mode == "malformed":
            self._send(200, b"<html>not json</html>")
        else:  # "404"
            self._send(404, b'{"detail": "Not Found"}')


class _FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reference: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reference = reference
        self.counts: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()


class FaultServer:
    def __init__(self, reference: str) -> None:
        self._server = _FaultServer(reference)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, mode: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{mode}"

    def count(self, mode: str) -> int:
        return self._server.counts[mode]

    def reset(self) -> None:
        with self._server.lock:
            self._server.counts.clear()
            self._server.seen.clear()

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"
