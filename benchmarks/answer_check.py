"""What the answer check costs: ``uv run python -m benchmarks.answer_check [--orders N]``.

The offline model answers N generated orders (every kind of the generator's mix) in process;
each agent's answer and the tool results it had are kept. Then:

1. the check alone, on each of those answers (``check_answer``, as a run applies it): median
   and p95 microseconds per answer, over 20 timings of each;
2. whole orders with ``ANSWER_CHECK=flag`` against ``off``, alternated over 5 rounds: median
   CPU milliseconds per order, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import time
from typing import Any

from order_tracking import composition
from order_tracking.answers.check import check_answer
from order_tracking.answers.policy import AnswerCheck, CheckPolicy
from order_tracking.backends import mock_backends
from order_tracking.backends.data import generate
from order_tracking.core.settings import OFFLINE_MODEL, Settings


@dataclasses.dataclass
class Recorder:
    """An answer check that keeps what it is given (and checks nothing)."""

    seen: list[tuple[str, list[Any], str | None]] = dataclasses.field(default_factory=list)

    def review(self, agent: str, text: str, results: Any, **kwargs: Any) -> Any:
        self.seen.append((text, [r for _, r in results], kwargs.get("order_id")))
        return AnswerCheck(CheckPolicy.OFF).review(agent, text, results)


def _app(orders: int) -> tuple[Any, list[str]]:
    records = [json.loads(line) for line in generate(orders, seed=7)]
    ids = [r["order_id"] for r in records if "order_id" in r]
    stock = [r for r in records if "sku" in r]
    backends = mock_backends([r for r in records if "order_id" in r], stock)
    app = composition.build(Settings(default_model=OFFLINE_MODEL), backends=backends, traced=False)
    return app, ids


async def _cpu_per_order_ms(app: Any, ids: list[str]) -> float:
    start = time.process_time()
    await app.track_orders(ids, concurrency=50)
    return (time.process_time() - start) * 1000 / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    app, ids = _app(args.orders)
    recorder = Recorder()
    asyncio.run(dataclasses.replace(app, answer_check=recorder).track_orders(ids, concurrency=50))
    timings, claims = [], []
    for text, results, order_id in recorder.seen:
        runs = []
        for _ in range(20):
            start = time.perf_counter_ns()
            verdict = check_answer(text, results, order_id=order_id)
            runs.append(time.perf_counter_ns() - start)
        assert verdict.verified, (text, verdict.unsupported)
        timings.append(statistics.median(runs) / 1000)
        claims.append(len(verdict.claims))
    timings.sort()
    print(f"answers: {len(timings)}, claims per answer: median {statistics.median(claims):g}")
    print(
        f"check per answer: median {statistics.median(timings):.0f} µs, "
        f"p95 {timings[int(0.95 * len(timings)) - 1]:.0f} µs"
    )
    flag, off = [], []
    checked = dataclasses.replace(app, answer_check=composition.answer_check(app.settings))
    unchecked = dataclasses.replace(app, answer_check=None)
    for _ in range(5):
        flag.append(asyncio.run(_cpu_per_order_ms(checked, ids)))
        off.append(asyncio.run(_cpu_per_order_ms(unchecked, ids)))
    f, o = statistics.median(flag), statistics.median(off)
    print(f"CPU per order: flag {f:.1f} ms, off {o:.1f} ms, ratio {f / o:.3f}")


if __name__ == "__main__":
    main()
