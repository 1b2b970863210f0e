"""The benchmark runs: every measurement, on tiny numbers, for ours and both baselines, through
the offline model and through the benchmark's own provider on loopback. Figures are checked
for sense, never for speed (the numbers live in BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from helpers import REPO_ROOT

from benchmarks import measure, provider


@pytest.fixture(scope="module")
def provider_port() -> Iterator[str]:
    """benchmarks.provider on 127.0.0.1, in a thread of this process."""
    loop = asyncio.new_event_loop()
    started: dict[str, object] = {}

    async def start() -> None:
        server = await asyncio.start_server(provider._handle, "127.0.0.1", 0)
        started["server"] = server
        started["port"] = str(server.sockets[0].getsockname()[1])

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield started["port"]

    async def stop() -> None:  # connections LiteLLM keeps alive are closed, not abandoned
        started["server"].close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.mark.parametrize("impl", ["ours", "plain", "parallel"])
async def test_fanout_overhead_and_batch_measure_every_implementation(impl, tracing, trace_dir):
    subject = measure.Subject(impl, "offline", impl == "ours", trace_dir)
    (row,) = await measure.fanout(subject, [0.0], reps=1)
    assert row["latency_s"] == 0.0
    assert row["wall_over_slowest"] >= 1.0  # the wall includes the slowest agent
    assert row["speedup"] > 0 and row["sequential_s"] > 0
    cost = await measure.overhead(subject, orders=2)
    assert cost["cpu_ms_per_agent_run"] > 0 and cost["wall_ms_per_order"] > 0
    batch = await measure.batch(subject, orders=3, in_flight=5, latency=0.0)
    assert batch["agent_runs_per_s"] > 0
    assert batch["p95_order_s"] >= batch["p50_order_s"] > 0


async def test_the_provider_answers_like_a_model_and_counts_requests_in_flight(
    provider_port, monkeypatch, trace_dir
):
    monkeypatch.setenv("BENCH_PROVIDER_PORT", provider_port)
    measure.provider_stats()  # reset
    subject = measure.Subject("plain", "provider", False, trace_dir)
    (row,) = await measure.fanout(subject, [0.0], reps=1)
    assert row["wall_over_slowest"] >= 1.0
    stats = measure.provider_stats()
    assert stats["requests"] >= 10 and stats["max_in_flight"] >= 2  # five agents at once


def test_a_measurement_process_prints_its_json_line(tmp_path):
    spec = {"kind": "overhead", "impl": "ours", "mode": "offline", "orders": 1}
    env = dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", json.dumps(spec)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()  # nothing else on stdout
    result = json.loads(line)
    assert result["spec"] == spec
    assert result["result"]["cpu_ms_per_agent_run"] > 0 and result["peak_rss_mib"] > 50
