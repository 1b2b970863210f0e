"""Plain ADK as a whole process: the article's pattern (one ``Runner`` and
``InMemorySessionService`` per agent run, ``asyncio.gather``) over a batch of orders, at most
``--in-flight`` agent runs at a time, and nothing else: no tracing, resilience, guard, answer
check or metrics. The peer of ``track-order --file ids --concurrency N`` in
``benchmarks.cost``'s whole-process comparison (same specialists, tools, prompts and LiteLLM
models, from ``baselines``).

    python -m benchmarks.plain_batch --orders 100 --in-flight 100 --model openai/lat-0.3

``--instrument-after-start``: under callgrind started with ``--instr-atstart=no``, count only
the batch (``callgrind_control -i on`` once the agents are built and one order has run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # as the app: no network
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
# LiteLLM's default (the openai SDK), before importing our package sets ours: plain ADK is
# measured as it comes.
os.environ.setdefault("EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER", "false")

ORDERS = ("ORD-1001", "ORD-1002", "ORD-1003")


def counting(on: bool) -> None:
    """Turn callgrind's instruction counting on or off in this process (if it runs under it)."""
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        check=False,
        capture_output=True,
    )


async def batch(
    orders: int, in_flight: int, model: str, instrument: bool, sample: str | None = None
) -> None:
    from benchmarks import baselines
    from benchmarks.sampler import Sampler

    agents = baselines.plain_agents(model, timeout=120)
    gate = asyncio.Semaphore(in_flight)

    async def run(agent: object, order_id: str) -> None:
        async with gate:
            _, text = await baselines.run_one(agent, order_id)  # type: ignore[arg-type]
        if not text:
            raise SystemExit(f"{order_id}: no answer")

    async def order(order_id: str) -> None:
        await asyncio.gather(*(run(agent, order_id) for agent in agents))

    sampler = Sampler() if sample else None
    if instrument or sampler:
        await order(ORDERS[0])  # first-call imports, as our warm-up does
    if instrument:
        counting(True)
    if sampler:
        sampler.start()
    await asyncio.gather(*(order(ORDERS[i % 3]) for i in range(orders)))
    if instrument:
        counting(False)
    if sampler and sample:
        sampler.stop()
        Path(sample).write_text(sampler.raw())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--model", default="openai/lat-0.3")
    parser.add_argument("--instrument-after-start", action="store_true")
    parser.add_argument("--sample", help="write the batch's stack samples here (sampler.py)")
    args = parser.parse_args()
    asyncio.run(
        batch(args.orders, args.in_flight, args.model, args.instrument_after_start, args.sample)
    )


if __name__ == "__main__":
    main()
