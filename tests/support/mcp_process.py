"""``track-order mcp --transport http`` in a process of its own, on loopback, for the MCP
tests: started (it prints where it listens), stopped, started again on the same port."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from helpers import TRACK_ORDER

__all__ = ["McpServer"]


class McpServer:
    """``track-order mcp --transport http`` on loopback, in its own process."""

    def __init__(self, folder: Path, port: int = 0, *args: str, env: dict | None = None) -> None:
        self.folder, self.port, self.proc = folder, port, None
        self.args, self.env = args, env or {}
        self.log = folder / "mcp.log"

    def start(self) -> str:
        log = self.log = self.folder / f"mcp-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(
            [TRACK_ORDER, "mcp", "--transport", "http", "--port", str(self.port), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            env={**os.environ, "ORDER_BACKEND": "mock", "ADK_DISABLE_LOAD_DOTENV": "1", **self.env},
            cwd=self.folder,
        )
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Serving MCP on (http://\S+/mcp)\n", log.read_text())):
            assert self.proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "track-order mcp never listened"
            time.sleep(0.1)
        self.url = found.group(1)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self.url

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
