"""What the answer check costs: ``uv run python -m benchmarks.answer_check [--orders N]``,
and ``--adversarial [--before COMMIT]`` for hostile answers.

The offline model answers N generated orders (every kind of the generator's mix) in process;
each agent's answer and the tool results it had are kept. Then:

1. the check alone, on each of those answers (``AnswerCheck.verdict``, as a run applies it,
   with the call arguments and the lookup rule): median and p95 microseconds per answer,
   over 20 timings of each;
2. whole orders with ``ANSWER_CHECK=flag`` against ``off``, alternated over 5 rounds: median
   CPU milliseconds per order, and the ratio (the check's hop to a worker thread included).

``--adversarial``: the check on hostile answers of growing size (comma-grouped digits, the
answer that froze ``serve``; long runs of ids, SKUs, keys, table cells, look-alike letters),
median milliseconds of 3 runs each; with ``--before COMMIT``, the check as it was at that
commit (``answers/check.py`` and ``patterns.py`` loaded from git) side by side, on sizes up to
``--before-max`` characters (it is quadratic: 100 KB took ~36 s).
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

    seen: list[tuple[str, str, list[Any], dict[str, Any]]] = dataclasses.field(default_factory=list)

    async def review_within(
        self, seconds: float | None, agent: str, text: str, results: Any, **kwargs: Any
    ) -> Any:
        asked = {k: kwargs[k] for k in ("order_id", "arguments") if k in kwargs}
        self.seen.append((agent, text, list(results), asked))
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


ADVERSARIAL = {
    "digits 111,111,…": "111,",
    "amounts $1,1,…": "$1,",
    "order ids": "ORD-1 ",
    "SKUs and counts": "SKU-A: 1 ",
    "JSON keys": '{"amount": ',
    "table cells": "| x ",
    "look-alikes": "Ра\u2010",
}
SIZES = [1_000, 10_000, 40_000, 100_000]


def _before(commit: str) -> Any:
    """``check_answer`` as it was at ``commit``, loaded from git into a temporary package."""
    import importlib
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp()) / "answer_check_before"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in ("check.py", "patterns.py"):
        source = subprocess.run(
            ["git", "show", f"{commit}:order_tracking/answers/{name}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        (folder / name).write_text(source)
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("answer_check_before.check").check_answer


def _median_ms(check: Any, text: str, results: list[Any], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        check(text, results, order_id="ORD-1001")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def adversarial(before: str | None, before_max: int, sizes: list[int] = SIZES) -> None:
    results = [
        {"order_id": "ORD-1001", "payment_status": "captured", "amount": 299.99,
         "currency": "USD"},
    ]  # fmt: skip
    old = _before(before) if before else None
    header = "| input | " + " | ".join(f"{size / 1000:g} KB" for size in sizes) + " |"
    print(header)
    print("|" + "---|" * (len(sizes) + 1))
    for name, chunk in ADVERSARIAL.items():
        cells = []
        for size in sizes:
            text = (chunk * (size // len(chunk) + 1))[:size]
            now = f"{_median_ms(check_answer, text, results):.1f}"
            if old is not None:
                was = "—" if size > before_max else f"{_median_ms(old, text, results, 1):.1f}"
                now = f"{was} → {now}"
            cells.append(now)
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--adversarial", action="store_true")
    parser.add_argument("--before", help="a commit whose check to time side by side")
    parser.add_argument("--no-orders", action="store_true", help="skip the whole-order CPU")
    parser.add_argument("--before-max", type=int, default=40_000)
    args = parser.parse_args()
    if args.adversarial:
        adversarial(args.before, args.before_max)
        return
    app, ids = _app(args.orders)
    recorder = Recorder()
    asyncio.run(dataclasses.replace(app, answer_check=recorder).track_orders(ids, concurrency=50))
    timings, claims, was = [], [], []
    check = AnswerCheck()
    old = _before(args.before) if args.before else None
    for agent, text, results, asked in recorder.seen:
        runs, old_runs = [], []
        bare = [r for _, r in results]
        for _ in range(20):  # alternated: the two checks see the same machine
            start = time.perf_counter_ns()
            verdict = check.verdict(agent, text, results, **asked)
            runs.append(time.perf_counter_ns() - start)
            if old is not None:
                start = time.perf_counter_ns()
                old(text, bare, order_id=asked.get("order_id"))
                old_runs.append(time.perf_counter_ns() - start)
        assert verdict.verified, (text, verdict.unsupported, verdict.no_lookup)
        timings.append(statistics.median(runs) / 1000)
        if old_runs:
            was.append(statistics.median(old_runs) / 1000)
        claims.append(len(verdict.claims))
    timings.sort()
    print(f"answers: {len(timings)}, claims per answer: median {statistics.median(claims):g}")
    print(
        f"check per answer: median {statistics.median(timings):.0f} µs, "
        f"p95 {timings[int(0.95 * len(timings)) - 1]:.0f} µs"
    )
    if was:
        was.sort()
        print(
            f"the check at {args.before}, side by side: median {statistics.median(was):.0f} µs, "
            f"p95 {was[int(0.95 * len(was)) - 1]:.0f} µs"
        )
    if args.no_orders:
        return
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
