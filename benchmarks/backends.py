"""The data sources, measured: ``uv run python -m benchmarks.backends [--orders N] [--out F]``
(about 10 minutes at the default million orders).

1. ``data generate N`` then ``data import``: orders imported per second;
2. lookup latency at N orders (every tool's backend calls for random orders, in one event
   loop): p50 / p99 per tool call for mock, SQLite and HTTP (the reference API on loopback);
3. a batch of ``--batch`` distinct orders through ``track-order --file`` (offline model, in
   one process) with each backend: agent runs per second, every order answered, peak RSS;
   and the same for 100 orders, for the memory comparison.

Results go to stdout and ``--out`` (default ``benchmarks/backends.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRACK_ORDER = str(Path(sys.executable).parent / "track-order")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, SHIPPING_MODEL="offline", ADK_DISABLE_LOAD_DOTENV="1")
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generate_and_import(n: int, folder: Path) -> tuple[Path, dict[str, float]]:
    source, db = folder / "orders.jsonl", folder / "orders.db"
    start = time.perf_counter()
    subprocess.run(
        [TRACK_ORDER, "data", "generate", str(n), "-o", str(source)], check=True, env=_env()
    )
    generated = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(
        [TRACK_ORDER, "data", "import", str(source), "--db", str(db)],
        check=True,
        env=_env(),
        stderr=subprocess.DEVNULL,
    )
    imported = time.perf_counter() - start
    return db, {
        "orders": n,
        "generate_s": generated,
        "import_s": imported,
        "import_rate": n / imported,
        "file_mib": source.stat().st_size / 2**20,
        "db_mib": db.stat().st_size / 2**20,
    }


class Server:
    """``track-order backends serve`` on a free loopback port."""

    def __init__(self, data: str) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [TRACK_ORDER, "backends", "serve", "--data", data, "--port", str(self.port)],
            env=_env(),
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        import httpx

        for _ in range(300):
            try:
                httpx.get(self.url + "/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("backends serve did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def _lookups(setting: str, ids: list[str], skus: list[str]) -> dict[str, list[float]]:
    from order_tracking.agents.tools import build_tools
    from order_tracking.backends import open_backends, parse_backend

    backends = open_backends(parse_backend({"ORDER_BACKEND": setting}, timeout_s=10, retries=0))
    tools = build_tools(backends)
    times: dict[str, list[float]] = {name: [] for name in tools}
    try:
        for order_id, sku in zip(ids, skus, strict=True):
            for name, tool in tools.items():
                args = {"sku": sku} if name == "check_inventory" else {"order_id": order_id}
                start = time.perf_counter()
                result = await tool(**args)
                times[name].append(time.perf_counter() - start)
                assert result["status"] == "success", result
    finally:
        await backends.aclose()
    return times


def lookup_latency(db: Path, n: int, samples: int, server: Server) -> list[dict[str, object]]:
    from order_tracking.backends.data import catalogue_size, order_id

    rng = random.Random(1)
    ids = [order_id(rng.randrange(n)) for _ in range(samples)]
    skus = [f"SKU-{rng.randrange(catalogue_size(n)):05d}" for _ in range(samples)]
    rows = []
    mock_ids = ["ORD-1001"] * samples
    mock_skus = ["SKU-APL-01"] * samples
    for label, setting, these_ids, these_skus in (
        ("mock (article data)", "mock", mock_ids, mock_skus),
        (f"sqlite ({n:,} orders)", f"sqlite:///{db}", ids, skus),
        (f"http → reference API over sqlite ({n:,})", server.url, ids, skus),
    ):
        times = asyncio.run(_lookups(setting, these_ids, these_skus))
        for tool, values in times.items():
            values.sort()
            rows.append(
                {
                    "backend": label,
                    "tool": tool,
                    "p50_ms": 1000 * statistics.median(values),
                    "p99_ms": 1000 * values[int(0.99 * (len(values) - 1))],
                }
            )
    return rows


def batch(setting: str, ids: list[str], folder: Path, label: str) -> dict[str, object]:
    ids_file = folder / f"ids-{len(ids)}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "maxrss_kib=%M",
            TRACK_ORDER,
            "--file",
            str(ids_file),
            "--json",
            "--concurrency",
            "100",
        ],
        env=_env(ORDER_BACKEND=setting, MONOCLE_TRACE_OUTPUT_PATH=str(folder / "traces")),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    reports = [json.loads(line) for line in proc.stdout.splitlines()]
    answered = sum(all(a["status"] == "ok" for a in r["agents"]) for r in reports)
    rss = int(proc.stderr.rsplit("maxrss_kib=", 1)[1].split()[0]) / 1024
    return {
        "backend": label,
        "orders": len(ids),
        "answered": answered,
        "exit": proc.returncode,
        "wall_s": wall,
        "agent_runs_per_s": 5 * len(ids) / wall,
        "peak_rss_mib": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "backends.md")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    db, imported = generate_and_import(args.orders, folder)
    print(json.dumps(imported))
    server = Server(f"sqlite:///{db}")
    try:
        lookups = lookup_latency(db, args.orders, args.samples, server)
        for row in lookups:
            print(json.dumps(row))
        from order_tracking.backends.data import order_id

        rng = random.Random(2)
        ids = [order_id(i) for i in rng.sample(range(args.orders), args.batch)]
        batches = []
        for label, setting in (
            ("sqlite", f"sqlite:///{db}"),
            ("http", server.url),
            ("mock", "mock"),
        ):
            these = (
                ids if label != "mock" else ["ORD-1001", "ORD-1002", "ORD-1003"] * (args.batch // 3)
            )
            for size in (100, len(these)):
                row = batch(setting, these[:size], folder, label)
                print(json.dumps(row))
                batches.append(row)
    finally:
        server.close()
    lines = [
        "# Backends benchmark",
        "",
        f"`python -m benchmarks.backends {' '.join(sys.argv[1:])}`",
        "",
        "## Import",
        "",
        "```json",
        json.dumps(imported, indent=1),
        "```",
        "",
        "## Lookups (per tool call)",
        "",
        "| backend | tool | p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['backend']} | {r['tool']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |" for r in lookups
    ]
    lines += [
        "",
        "## Batches (offline model, one process, --concurrency 100)",
        "",
        "| backend | orders | answered | exit | wall s | agent runs/s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {b['backend']} | {b['orders']} | {b['answered']} | {b['exit']} | "
        f"{b['wall_s']:.1f} | {b['agent_runs_per_s']:.0f} | {b['peak_rss_mib']:.0f} |"
        for b in batches
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
