"""What a tool call costs over MCP: ``uv run python -m benchmarks.mcp [--calls N]``.

The same call (``get_order_status`` for ORD-1001 on the built-in data) made N times, one after
another, four ways: the agents' own function in process; through the official MCP client to
the server in memory (the protocol without a transport); to ``track-order mcp`` over stdio (a
subprocess); and to ``track-order mcp --transport http`` on loopback (stateless streamable
HTTP, one client session). Median and p95 per call, and each median against in process. Then
whole orders one after another, the tools in process and over MCP (``TOOLS_MCP_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from order_tracking.agents.tools import build_tools
from order_tracking.backends import mock_backends
from order_tracking.mcp.server import build_mcp_server

TRACK_ORDER = str(Path(sys.executable).parent / "track-order")
ARGS = {"order_id": "ORD-1001"}


async def _timed(call: Callable[[], Awaitable[Any]], calls: int) -> list[float]:
    for _ in range(20):  # warm: connections, imports, caches
        await call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return times


async def _over(server: Any, calls: int) -> list[float]:
    async with Client(server) as client:

        async def call() -> Any:
            result = await client.call_tool("get_order_status", ARGS)
            assert not result.is_error, result
            return result

        return await _timed(call, calls)


def _http_server(folder: str) -> tuple[subprocess.Popen, str]:
    log = Path(folder) / "mcp.log"
    proc = subprocess.Popen(
        [TRACK_ORDER, "mcp", "--transport", "http", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        cwd=folder,
    )
    deadline = time.monotonic() + 60
    while not (found := re.search(r"Serving MCP on (http://\S+/mcp)\n", log.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"track-order mcp did not start: {log.read_text()}")
        time.sleep(0.1)
    return proc, found.group(1)


async def _orders(url: str, orders: int) -> dict[str, list[float]]:
    """One order after another (every agent of it at once), in process and with the tools over
    MCP: wall seconds per order."""
    from order_tracking import composition
    from order_tracking.core.settings import OFFLINE_MODEL, Settings

    walls: dict[str, list[float]] = {}
    ways = (
        ("tools in process", None),
        ("tools over MCP (stdio)", f"{TRACK_ORDER} mcp"),
        ("tools over MCP (HTTP)", url),
    )
    for name, tools_mcp in ways:
        settings = Settings(default_model=OFFLINE_MODEL, tools_mcp=tools_mcp)
        app = composition.build(settings, traced=False)
        try:
            for _ in range(3):
                await app.track_order("ORD-1001")  # warm: sessions, the tool list
            walls[name] = [(await app.track_order("ORD-1001")).wall_s for _ in range(orders)]
        finally:
            await app.aclose()
    return walls


async def main(calls: int) -> None:
    tools = build_tools(mock_backends())
    rows: dict[str, list[float]] = {}
    rows["in process"] = await _timed(lambda: tools["get_order_status"](**ARGS), calls)
    rows["MCP in memory"] = await _over(build_mcp_server(tools), calls)
    with tempfile.TemporaryDirectory() as folder:
        stdio = StdioServerParameters(
            command=TRACK_ORDER,
            args=["mcp"],
            env={**os.environ, "ORDER_BACKEND": "mock"},
            cwd=folder,
        )
        rows["MCP over stdio"] = await _over(stdio, calls)
        proc, url = _http_server(folder)
        try:
            rows["MCP over HTTP"] = await _over(url, calls)
            walls = await _orders(url, max(15, calls // 20))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    base = statistics.median(rows["in process"])
    print(f"| way | median ms/call | p95 ms/call | × in process |  ({calls} calls each)")
    print("|---|---|---|---|")
    for name, times in rows.items():
        times.sort()
        median, p95 = statistics.median(times), times[int(0.95 * len(times)) - 1]
        print(f"| {name} | {median * 1000:.3f} | {p95 * 1000:.3f} | {median / base:.0f} |")
    print("\n| one order (ORD-1001, offline model) | median wall s | p95 wall s |")
    print("|---|---|---|")
    for name, times in walls.items():
        times.sort()
        p95 = times[int(0.95 * len(times)) - 1]
        print(f"| {name} | {statistics.median(times):.3f} | {p95:.3f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    asyncio.run(main(parser.parse_args().calls))
