"""What the operator's instruments cost: ``uv run python -m benchmarks.operations [--orders N]``.

The offline model answers N generated orders in process, untraced, 50 agent runs in flight:

1. whole orders with the watch (every agent run and order counted, every model call metered
   and charged to the hourly limit, a limit set so it is checked) against none, over 8
   rounds in ABBA order: median CPU milliseconds per order, and the ratio; then the watch's
   own work for an order, timed alone (what the ratio cannot resolve);
2. one ``LOG_FORMAT=json`` record, formatted and written (to /dev/null): median µs;
3. one scrape of ``/metrics`` after the batch (``Metrics.exposition``): median microseconds
   over 200, and its size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import time
from typing import Any

from order_tracking import composition
from order_tracking.backends import mock_backends
from order_tracking.backends.data import generate
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.ops.watch import Watch


def _apps(orders: int) -> tuple[Any, Any, list[str]]:
    records = [json.loads(line) for line in generate(orders, seed=7)]
    ids = [r["order_id"] for r in records if "order_id" in r]
    stock = [r for r in records if "sku" in r]
    settings = Settings(default_model=OFFLINE_MODEL, max_cost_usd_per_hour=1e6)

    def build(watch: Watch) -> Any:
        backends = mock_backends([r for r in records if "order_id" in r], stock)
        models = composition.production_models(settings, watch if watch.metrics else None)
        return composition.build(
            settings, models=models, backends=backends, traced=False, watch=watch
        )

    return build(Watch.for_settings(settings)), build(Watch()), ids


async def _cpu_per_order_ms(app: Any, ids: list[str]) -> float:
    start = time.process_time()
    await app.track_orders(ids, concurrency=50)
    return (time.process_time() - start) * 1000 / len(ids)


def _compare(first: Any, second: Any, ids: list[str]) -> tuple[float, float]:
    """Medians over 8 rounds in ABBA order: the process slows a little as it runs, which a
    plain alternation would charge to whichever goes second."""
    a, b = [], []
    for round_ in range(8):
        pair = [(first, a), (second, b)]
        for app, into in pair if round_ % 2 == 0 else reversed(pair):
            into.append(asyncio.run(_cpu_per_order_ms(app, ids)))
    return statistics.median(a), statistics.median(b)


def _instruments_per_order_us(watch: Watch, report: Any) -> float:
    """The watch's own work for one order, timed alone: the admission check, ten metered
    model calls (two per agent), five agent results, the order's start and end."""
    from order_tracking.models.meter import ModelMeter

    meter = ModelMeter(watch.metrics, watch.spend)

    async def one_order() -> None:
        await watch.refusal()
        watch.order_started()
        for _ in range(10):
            async with meter.attempt(OFFLINE_MODEL):
                pass
        for result in report.results:
            watch.agent_finished(result)
        watch.order_finished(report)

    async def timed() -> list[float]:
        runs = []
        for _ in range(2000):
            start = time.perf_counter_ns()
            await one_order()
            runs.append((time.perf_counter_ns() - start) / 1000)
        return runs

    return statistics.median(asyncio.run(timed()))


def _json_record_us() -> float:
    """One ``LOG_FORMAT=json`` record, formatted and written (to /dev/null), inside an
    order's and agent's context, as the runner writes one per agent run and per order."""
    from order_tracking.ops.logs import JsonFormatter, log_context

    log = logging.getLogger("order_tracking.bench")
    log.propagate = False
    log.setLevel(logging.INFO)
    with open(os.devnull, "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        runs = []
        with log_context(order_id="ORD-1001", agent="payment_agent"):
            for _ in range(5000):
                start = time.perf_counter_ns()
                log.info("agent finished: %s in %.3fs%s", "ok", 0.0812, "")
                runs.append((time.perf_counter_ns() - start) / 1000)
        log.removeHandler(handler)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    watched, bare, ids = _apps(args.orders)
    asyncio.run(bare.track_orders(ids[:20], concurrency=50))  # warm
    w, b = _compare(watched, bare, ids)
    print(f"CPU per order: watched {w:.1f} ms, none {b:.1f} ms, ratio {w / b:.3f}")
    report = asyncio.run(bare.track_order(ids[0]))
    spent = _instruments_per_order_us(Watch.for_settings(watched.settings), report)
    print(f"the watch's own work: median {spent:.0f} µs per order")

    print(f"JSON logs: median {_json_record_us():.1f} µs per record, 6 records per order")

    metrics = watched.watch.metrics
    runs = []
    for _ in range(200):
        start = time.perf_counter_ns()
        body = metrics.exposition()
        runs.append(time.perf_counter_ns() - start)
    lines = body.count(b"\n")
    print(
        f"/metrics: {len(body):,} bytes, {lines:,} lines, "
        f"median {statistics.median(runs) / 1000:.0f} µs per scrape"
    )


if __name__ == "__main__":
    main()
