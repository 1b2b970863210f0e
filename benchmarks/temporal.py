"""Temporal against the in-process run: ``uv run --group temporal-server python -m
benchmarks.temporal [--orders N] [--latency S]`` (a few minutes).

Starts a dev server (the installed binary, an on-disk database in a temporary folder) and
`track-order worker` processes, submits N orders and waits for them; then runs the same orders
in one process (`track-order --file`). Reports wall time, agent runs per second, CPU seconds
per order of the worker(s), the server and the in-process run, and history bytes per order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from temporal_server import DevServer  # noqa: E402

TRACK_ORDER = str(Path(sys.executable).parent / "track-order")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


async def run_temporal(
    address: str, orders: int, workers: int, env: dict, folder: Path, tracing
) -> dict:
    """Each order submitted in its own trace, as ``track-order submit`` does: the workers
    write their parts of it (and wait for them before reporting), as in production."""
    from order_tracking.agents.specialists import SPECIALIST_NAMES
    from order_tracking.temporal import OrderRequest, connect, report, submit

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    logs = [folder / f"worker-{queue}-{n}.log" for n in range(workers)]
    procs = [
        subprocess.Popen(
            [TRACK_ORDER, "worker", "--concurrency", "100", "--task-queue", queue],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),  # a file: a pipe nobody reads would stall the worker
        )
        for log in logs
    ]
    try:
        for log in logs:  # each says so once it polls the queue
            while b"Worker on " not in log.read_bytes():
                await asyncio.sleep(0.1)
        before = sum(cpu_s(p.pid) for p in procs)
        client = await connect(address, "default")
        ids = ["ORD-1001", "ORD-1002", "ORD-1003"]
        parts_before = len(list((folder / ".monocle").glob("*.json")))
        start = time.perf_counter()
        handles = []
        for n in range(orders):
            with tracing.trace("order_tracking_temporal", {"order_id": ids[n % 3]}) as trace_id:
                handles.append(
                    await submit(
                        client,
                        OrderRequest(ids[n % 3], list(SPECIALIST_NAMES), 60),
                        key=f"{queue}-{n}",
                        task_queue=queue,
                        priority=3,
                        trace_id=trace_id,
                    )
                )
        fetched = await asyncio.gather(*(report(h, ids[n % 3]) for n, h in enumerate(handles)))
        reports = [order for order, _ in fetched]
        wall = time.perf_counter() - start
        worker_cpu = sum(cpu_s(p.pid) for p in procs) - before
        sizes = [len((await h.fetch_history()).to_json()) for h in handles[:20]]
        history = sum(sizes) / len(sizes)
        answered = sum(all(r.ok for r in rep.results) for rep in reports)
        tracing.flush()
        parts = len(list((folder / ".monocle").glob("*.json"))) - parts_before
        return {
            "trace_files_per_order": parts / orders,
            "wall_s": wall,
            "answered": answered,
            "worker_cpu_per_order_ms": 1000 * worker_cpu / orders,
            "history_bytes_per_order": history,
        }
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


SINGLE = 15  # orders one after another, for the per-order overhead


async def single_temporal(address: str, env: dict, folder: Path, tracing) -> float:
    """Median wall of one order alone, submit to result, on an idle worker."""
    from order_tracking.agents.specialists import SPECIALIST_NAMES
    from order_tracking.temporal import OrderRequest, connect, report, submit

    queue = f"single-{uuid.uuid4().hex[:8]}"
    log = folder / f"worker-{queue}.log"
    proc = subprocess.Popen(
        [TRACK_ORDER, "worker", "--task-queue", queue],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        while b"Worker on " not in log.read_bytes():
            await asyncio.sleep(0.1)
        client = await connect(address, "default")
        walls = []
        for n in range(SINGLE + 1):  # the first warms the worker's connections up: not counted
            start = time.perf_counter()
            with tracing.trace("order_tracking_temporal", {"order_id": "ORD-1001"}) as tid:
                handle = await submit(
                    client,
                    OrderRequest("ORD-1001", list(SPECIALIST_NAMES), 60),
                    key=f"{queue}-{n}",
                    task_queue=queue,
                    priority=3,
                    trace_id=tid,
                )
                await report(handle, "ORD-1001")
            walls.append(time.perf_counter() - start)
        return statistics.median(walls[1:])
    finally:
        proc.terminate()
        proc.wait()


def single_in_process(latency: float) -> float:
    """Median wall of one order alone in one process (run in a process of its own: this one
    has the client's tracing)."""
    code = (
        "import asyncio, statistics, time\n"
        "from order_tracking import composition\n"
        "from order_tracking.core.settings import Settings, OFFLINE_MODEL\n"
        f"app = composition.build(Settings(default_model=OFFLINE_MODEL, offline_latency_s={latency}), warm=True)\n"
        "async def main():\n"
        "    walls = []\n"
        f"    for _ in range({SINGLE + 1}):\n"
        "        start = time.perf_counter(); await app.track_order('ORD-1001')\n"
        "        walls.append(time.perf_counter() - start)\n"
        "    print(statistics.median(walls[1:]))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(
            os.environ, ADK_DISABLE_LOAD_DOTENV="1", MONOCLE_TRACE_OUTPUT_PATH=tempfile.mkdtemp()
        ),
    )
    return float(out.stdout.strip().splitlines()[-1])


def _in_process(orders: int, env: dict, folder: Path, workers: int) -> tuple[float, float]:
    ids = folder / "ids.txt"
    ids.write_text("\n".join(["ORD-1001", "ORD-1002", "ORD-1003"][n % 3] for n in range(orders)))
    start = time.perf_counter()
    proc = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "cpu=%U+%S",
            TRACK_ORDER,
            "--file",
            str(ids),
            "-q",
            "--concurrency",
            "100",
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    user, system = proc.stderr.rsplit("cpu=", 1)[1].split()[0].split("+")
    return wall, float(user) + float(system)


def run_in_process(orders: int, env: dict, folder: Path, workers: int) -> dict:
    """By difference between ``orders`` and 10 orders, so start-up (imports, warm-up, forks)
    cancels out as it does for the already-running Temporal workers."""
    wall_n, cpu_n = _in_process(orders, env, folder, workers)
    wall_10, cpu_10 = _in_process(10, env, folder, workers)
    return {"wall_s": wall_n - wall_10, "cpu_per_order_ms": 1000 * (cpu_n - cpu_10) / (orders - 10)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 0.3])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-temporal-"))
    from order_tracking.core.settings import OFFLINE_MODEL, Settings
    from order_tracking.tracing.setup import setup_tracing

    # The submitting side's parts (each order's root) beside the workers' (cwd = folder).
    settings = Settings(default_model=OFFLINE_MODEL, trace_dir=folder / ".monocle")
    tracing = setup_tracing(settings, instrument=False)
    rows, singles = [], []
    with DevServer(folder) as server:
        for latency in args.latency:
            env = dict(
                os.environ,
                SHIPPING_MODEL="offline",
                OFFLINE_MODEL_LATENCY_S=str(latency),
                TEMPORAL_ADDRESS=server.address,
                ADK_DISABLE_LOAD_DOTENV="1",
            )
            one_t = asyncio.run(single_temporal(server.address, env, folder, tracing))
            one_p = single_in_process(latency)
            singles.append((latency, one_t, one_p))
            print(
                json.dumps(
                    {
                        "latency_s": latency,
                        "one_order_temporal_s": one_t,
                        "one_order_in_process_s": one_p,
                    }
                ),
                flush=True,
            )
            for workers in (1, 2):
                server_before = cpu_s(server.proc.pid)
                t = asyncio.run(
                    run_temporal(server.address, args.orders, workers, env, folder, tracing)
                )
                t["server_cpu_per_order_ms"] = (
                    1000 * (cpu_s(server.proc.pid) - server_before) / args.orders
                )
                p = run_in_process(args.orders, env, folder, workers)
                row = {
                    "latency_s": latency,
                    "workers": workers,
                    "orders": args.orders,
                    "temporal": t,
                    "in_process": p,
                    "runs_per_s_temporal": 5 * args.orders / t["wall_s"],
                    "runs_per_s_in_process": 5 * (args.orders - 10) / p["wall_s"],
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    print_singles(singles)
    print(
        "\n| latency s | workers | agent runs/s Temporal | in process | ratio | worker CPU ms/order | server CPU ms/order | in-process CPU ms/order | history KB/order | trace files/order |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t, p = r["temporal"], r["in_process"]
        print(
            f"| {r['latency_s']} | {r['workers']} | {r['runs_per_s_temporal']:.1f} | "
            f"{r['runs_per_s_in_process']:.1f} | {r['runs_per_s_temporal'] / r['runs_per_s_in_process']:.2f} | "
            f"{t['worker_cpu_per_order_ms']:.0f} | {r['temporal']['server_cpu_per_order_ms']:.0f} | "
            f"{p['cpu_per_order_ms']:.0f} | {t['history_bytes_per_order'] / 1000:.1f} | "
            f"{t['trace_files_per_order']:.2f} |"
        )


def print_singles(singles: list[tuple[float, float, float]]) -> None:
    print("\n| latency s | one order on Temporal s | in process s | overhead s |")
    print("|---|---|---|---|")
    for latency, one_t, one_p in singles:
        print(f"| {latency} | {one_t:.3f} | {one_p:.3f} | {one_t - one_p:+.3f} |")


if __name__ == "__main__":
    main()
