"""Debian's ``redis-server`` on a loopback port for the tests, with nothing written to disk
(``--save ''``, no append-only file). Started once per session (``redis_url`` in conftest),
or on its own by a test that stops it mid-run (``RedisServer`` as a context manager).

Without the ``redis-server`` package the tests that need it fail and say how to install it
(``.ci/run`` installs it); they are skipped only where neither it nor apt-get exists."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"


def require_redis() -> str:
    """The server's path, or a skip (no package and no apt-get) or a failure (apt-get is
    there: install it)."""
    if Path(BINARY).is_file():
        return BINARY
    if shutil.which("apt-get") is None:
        pytest.skip("no redis-server and no apt-get to install it with")
    pytest.fail("redis-server is not installed: apt-get install -y redis-server (.ci/run does)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process; ``url`` is its database ``db`` (``/0`` by default)."""

    def __init__(self, folder: Path) -> None:
        self.binary, self.folder = require_redis(), folder
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def __enter__(self) -> RedisServer:
        for _ in range(5):  # a port taken between the probe and the bind: another one
            self.port = _free_port()
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._answers(deadline_s=10):
                return self
            self.stop()
        raise RuntimeError("redis-server did not start on a loopback port")

    def _answers(self, deadline_s: float) -> bool:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Gone at once, as a crashed server is (the port refuses connections)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
