"""Never paying twice for the same facts, and limits that hold across processes (issue #26):
``uv run python -m benchmarks.cache`` (about 30 minutes at the defaults).

1. ``cache``: ``--orders`` distinct generated orders (SQLite, ``track-order data generate``)
   asked twice in one process with ``MODEL_CACHE`` = memory, disk and Redis (a
   ``redis-server`` on loopback, nothing saved to disk); between the passes one order's status
   changes. Per pass: the calls the provider received, tokens spent, wall and CPU seconds;
   and which agents of the changed order were answered from the cache.
2. ``overshoot``: ``--processes`` ``track-order`` processes share one ``SPEND_LIMIT_STORE``
   (SQLite, Redis) with ``MAX_TOKENS_PER_HOUR``; the tokens they spent together against the
   limit, and the model calls that were in flight (``--concurrency`` agent runs each).

Model calls go to ``benchmarks.provider`` on loopback (``--latency`` per call), untraced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import provider

TRACK_ORDER = str(Path(sys.executable).parent / "track-order")


def generated(n: int, folder: Path) -> tuple[Path, list[str]]:
    """``n`` synthetic orders in a SQLite database, and their ids."""
    env = dict(os.environ, SHIPPING_MODEL="offline", ADK_DISABLE_LOAD_DOTENV="1")
    source, db = folder / "orders.jsonl", folder / "orders.db"
    subprocess.run(
        [TRACK_ORDER, "data", "generate", str(n), "-o", str(source)], check=True, env=env
    )
    subprocess.run(
        [TRACK_ORDER, "data", "import", str(source), "--db", str(db)],
        check=True,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    ids = [json.loads(line).get("order_id") for line in source.read_text().splitlines()]
    return db, [i for i in ids if i]


class RedisProcess:
    def __init__(self, folder: Path) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
        from brokers import RedisServer

        self.server = RedisServer(folder)

    def __enter__(self) -> str:
        return self.server.__enter__().url

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__()


async def two_passes(kind: str, db: Path, ids: list[str], args: argparse.Namespace) -> dict:
    from benchmarks.measure import provider_stats
    from order_tracking import composition
    from order_tracking.core.settings import Settings

    settings = Settings(
        default_model=f"openai/lat-{args.latency:g}",
        model_timeout_s=120,
        agent_timeout_s=600,
        max_tokens_per_run=0,
        max_cost_usd_per_run=0,
        backend=Settings.from_env({"ORDER_BACKEND": f"sqlite:///{db}"}).backend,
        model_cache=kind,
    )
    app = composition.build(settings, traced=False)
    changed = ids[len(ids) // 2]
    passes = []
    for number in (1, 2):
        if number == 2:  # one order's facts change between the passes
            with sqlite3.connect(db) as conn:
                conn.execute(  # to a status it did not have
                    "UPDATE orders SET status = CASE status WHEN 'cancelled' THEN 'processing'"
                    " ELSE 'cancelled' END WHERE order_id = ?",
                    (changed,),
                )
        provider_stats()
        reports: list[Any] = []
        cpu0, start = time.process_time(), time.perf_counter()
        summary = await app.track_orders(
            ids, concurrency=args.concurrency, on_report=reports.append
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        await asyncio.sleep(1)  # the cache's last writes are tasks of their own
        stats = provider_stats()
        answered = sum(r.status in ("ok", "unavailable") for o in reports for r in o.results)
        passes.append(
            {
                "model_calls": stats.get("requests"),
                "tokens": summary.tokens,
                "wall_s": wall,
                "cpu_s": cpu,
                "answered": answered,
                "cached_runs": sum(r.cached for o in reports for r in o.results),
                "changed": {
                    r.agent: r.cached for o in reports if o.order_id == changed for r in o.results
                },
            }
        )
    await app.aclose()
    return {"kind": kind.split(":")[0], "passes": passes}


def cache_rows(args: argparse.Namespace, folder: Path, port: str) -> list[str]:
    os.environ.update(OPENAI_API_BASE=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="sk-bench")
    os.environ["BENCH_PROVIDER_PORT"] = port
    db, ids = generated(args.orders, folder)
    rows = [
        "| cache | pass | model calls | tokens | wall s | CPU s | agent runs answered from the cache | the changed order's agents from the cache |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("memory", "disk", "redis"):
        fresh = folder / kind
        fresh.mkdir()
        shutil.copy(db, fresh / "orders.db")
        with RedisProcess(fresh) if kind == "redis" else _Nothing() as url:
            where = {"memory": "memory", "disk": f"disk:{fresh / 'cache'}", "redis": url}[kind]
            result = _in_child(where, fresh / "orders.db", ids, args)
        for number, one in enumerate(result["passes"], start=1):
            changed = ", ".join(a for a, hit in one["changed"].items() if not hit) or "none"
            rows.append(
                f"| {kind} | {number} | {one['model_calls']} | {one['tokens']} | "
                f"{one['wall_s']:.1f} | {one['cpu_s']:.1f} | {one['cached_runs']} of "
                f"{5 * len(ids)} | {'missed: ' + changed if number == 2 else '—'} |"
            )
        print("\n".join(rows[-2:]), flush=True)
    return rows


class _Nothing:
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        pass


def _in_child(where: str, db: Path, ids: list[str], args: argparse.Namespace) -> dict:
    """Both passes in a fresh process (LiteLLM's cache is process-wide)."""
    spec = json.dumps({"where": where, "db": str(db), "ids": ids, **vars(args)})
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cache", "--child", spec],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def overshoot_rows(args: argparse.Namespace, folder: Path, port: str) -> list[str]:
    ids = folder / "ids.txt"
    ids.write_text("\n".join(["ORD-1001", "ORD-1002", "ORD-1003"] * args.overshoot_orders) + "\n")
    rows = [
        "| store | processes × agent runs in flight | limit (tokens) | spent together | over the limit | largest agent run (tokens) | runs refused |",
        "|---|---|---|---|---|---|---|",
    ]
    for store in ("sqlite", "redis", "memory"):
        with RedisProcess(folder) if store == "redis" else _Nothing() as url:
            where = {
                "sqlite": f"sqlite:///{folder / 'spend.db'}",
                "redis": url,
                "memory": "memory",
            }[store]
            env = dict(
                os.environ,
                SHIPPING_MODEL=f"openai/lat-{args.latency:g}",
                OPENAI_API_BASE=f"http://127.0.0.1:{port}/v1",
                OPENAI_API_KEY="sk-bench",
                ADK_DISABLE_LOAD_DOTENV="1",
                TRACE_SAMPLE_RATIO="0",
                MAX_TOKENS_PER_HOUR=str(args.limit),
                SPEND_LIMIT_STORE=where,
            )
            procs = [
                subprocess.Popen(
                    [
                        TRACK_ORDER,
                        "--json",
                        "--concurrency",
                        str(args.concurrency),
                        "--file",
                        str(ids),
                    ],
                    env=env,
                    cwd=folder,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                for _ in range(args.processes)
            ]
            agents = [
                a
                for p in procs
                for line in p.communicate()[0].splitlines()
                for a in json.loads(line)["agents"]
            ]
        spent = sum(a["tokens"] for a in agents)
        biggest = max(a["tokens"] for a in agents)  # an agent run: two calls, the second larger
        rows.append(
            f"| {store} | {args.processes} × {args.concurrency} | {args.limit} | {spent} | "
            f"{spent - args.limit:+d} ({100 * (spent - args.limit) / args.limit:+.1f}%) | "
            f"{biggest} | {sum(a['status'] == 'budget' for a in agents)} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="cache,overshoot")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--limit", type=int, default=50_000)
    parser.add_argument(
        "--overshoot-orders", type=int, default=10, help="of each of three, per process"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        run = argparse.Namespace(
            **{k: v for k, v in spec.items() if k not in ("where", "db", "ids")}
        )
        result = asyncio.run(two_passes(spec["where"], Path(spec["db"]), spec["ids"], run))
        print(json.dumps(result))
        return
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp, provider() as port:
        if "cache" in only:
            print("\n".join(cache_rows(args, Path(tmp), port)))
        if "overshoot" in only:
            print("\n".join(overshoot_rows(args, Path(tmp), port)))


if __name__ == "__main__":
    main()
