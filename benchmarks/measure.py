"""One measurement in a fresh process, printed as one JSON line (``benchmarks.run`` starts these).

A fresh process per measurement because Monocle, once installed, instruments the whole
process (so "without Monocle" needs a process that never had it) and because peak RSS is a
per-process figure.

    python -m benchmarks.measure '{"kind": "fanout", "impl": "ours", ...}'

impl: ``ours`` (track_order: resilience, guard, Monocle unless ``"traced": false``),
``plain`` (one Runner per agent + gather, nothing else), ``parallel`` (ADK ParallelAgent).
mode: ``offline`` (the offline model's latency knob) or ``provider`` (LiteLLM's OpenAI provider
against ``benchmarks.provider`` on 127.0.0.1, port in ``BENCH_PROVIDER_PORT``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from order_tracking import composition  # first: LiteLLM's offline-safe environment

OrderRun = Callable[[str], Awaitable[tuple[float, dict[str, tuple[float, str]]]]]
ORDERS = ("ORD-1001", "ORD-1002", "ORD-1003")


def model_name(mode: str, latency: float) -> str:
    from order_tracking.core.settings import OFFLINE_MODEL

    return OFFLINE_MODEL if mode == "offline" else f"openai/lat-{latency:g}"


def _provider_env() -> None:
    port = os.environ["BENCH_PROVIDER_PORT"]
    os.environ["OPENAI_API_BASE"] = f"http://127.0.0.1:{port}/v1"
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")


def settings_for(
    mode: str, latency: float, deadline_s: float, trace_dir: Path, **extra: Any
) -> Any:
    """Our settings for a measurement: the model at this latency, no token or cost caps
    (``extra``: more, e.g. ``trace_sample_ratio``)."""
    from order_tracking.core.settings import Settings

    return Settings(
        default_model=model_name(mode, latency),
        offline_latency_s=latency,
        model_timeout_s=120,
        agent_timeout_s=deadline_s,
        max_tokens_per_run=0,
        max_cost_usd_per_run=0,
        trace_dir=trace_dir,
        **extra,
    )


class Subject:
    """One implementation, ready to run orders at a given model latency."""

    def __init__(
        self,
        impl: str,
        mode: str,
        traced: bool,
        trace_dir: Path,
        extra: dict[str, Any] | None = None,  # Settings fields for ours
    ) -> None:
        self.impl, self.mode, self.traced, self.extra = impl, mode, traced, extra or {}
        self.trace_dir = trace_dir
        self.tracing: Any = None
        self.plain_agents: list[Any] = []
        if mode == "provider":
            _provider_env()
        composition.configure_libraries()

    def at(self, latency: float) -> tuple[OrderRun, OrderRun]:
        """(concurrent, sequential) order runners at this latency."""
        name = model_name(self.mode, latency)
        if self.impl == "ours":
            return self._ours(latency)
        from benchmarks import baselines
        from order_tracking.models.offline import LATENCY_PARAM

        extra = {LATENCY_PARAM: latency} if self.mode == "offline" and latency else {}
        agents = self.plain_agents = baselines.plain_agents(name, timeout=120, **extra)

        async def sequential(order_id: str) -> tuple[float, dict[str, tuple[float, str]]]:
            start = time.perf_counter()
            times = {a.name: await baselines.run_one(a, order_id) for a in agents}
            return time.perf_counter() - start, times

        if self.impl == "plain":
            return (lambda order_id: baselines.plain_gather(order_id, agents)), sequential
        runner = baselines.parallel_runner(baselines.plain_agents(name, timeout=120))
        return (lambda order_id: baselines.parallel_agent(order_id, runner)), sequential

    def _ours(self, latency: float) -> tuple[OrderRun, OrderRun]:
        from order_tracking.async_runner import prompt_for, run_agent_task

        tracker = self.app(latency, deadline_s=300)

        async def concurrent(order_id: str) -> tuple[float, dict[str, tuple[float, str]]]:
            report = await tracker.track_order(order_id)
            _check_ours(report.results)
            return report.wall_s, {r.agent: (r.elapsed_s, r.text) for r in report.results}

        async def sequential(order_id: str) -> tuple[float, dict[str, tuple[float, str]]]:
            start = time.perf_counter()
            times = {}
            for agent in tracker.agents:
                result = await run_agent_task(
                    agent, prompt_for(order_id), f"seq-{agent.name}", limits=tracker.limits
                )
                _check_ours([result])
                times[agent.name] = (result.elapsed_s, result.text)
            return time.perf_counter() - start, times

        return concurrent, sequential

    def app(self, latency: float, deadline_s: float) -> Any:
        """Our App for this latency, from the composition root (tracing once per process)."""
        settings = settings_for(self.mode, latency, deadline_s, self.trace_dir, **self.extra)
        tracker = composition.build(settings, traced=self.traced)
        self.tracing = tracker.tracing
        return tracker


def _check_ours(results: Any) -> None:
    """A degraded answer has text too: only a normal answer counts in a benchmark."""
    failed = [f"{r.agent}: {r.status} {r.error}" for r in results if r.status != "ok"]
    if failed:
        raise SystemExit(f"a benchmark run did not answer normally: {failed}")


def _check(times: dict[str, tuple[float, str]]) -> None:
    empty = [agent for agent, (_, text) in times.items() if not text]
    if len(times) != 5 or empty:
        raise SystemExit(f"a benchmark run did not answer: {sorted(times)} empty={empty}")


async def fanout(subject: Subject, latencies: list[float], reps: int) -> list[dict[str, Any]]:
    rows = []
    for latency in latencies:
        concurrent, sequential = subject.at(latency)
        for order_id in ORDERS:  # first calls at this latency: connections, caches
            await concurrent(order_id)
        ratios, walls, seqs = [], [], []
        for i in range(reps):
            wall, times = await concurrent(ORDERS[i % 3])
            _check(times)
            ratios.append(wall / max(t for t, _ in times.values()))
            walls.append(wall)
        for i in range(max(1, reps // 2) if latency >= 1 else reps):
            wall, times = await sequential(ORDERS[i % 3])
            _check(times)
            seqs.append(wall)
        rows.append(
            {
                "latency_s": latency,
                "wall_over_slowest": statistics.median(ratios),
                "wall_s": statistics.median(walls),
                "sequential_s": statistics.median(seqs),
                "speedup": statistics.median(seqs) / statistics.median(walls),
            }
        )
    return rows


async def overhead(subject: Subject, orders: int) -> dict[str, Any]:
    concurrent, _ = subject.at(0.0)
    for order_id in ORDERS * 2:
        await concurrent(order_id)
    above, cpu0, wall0 = [], time.process_time(), time.perf_counter()
    for i in range(orders):
        wall, times = await concurrent(ORDERS[i % 3])
        _check(times)
        above.append(wall - max(t for t, _ in times.values()))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "orders": orders,
        "above_slowest_ms": 1000 * statistics.median(above),
        "cpu_ms_per_agent_run": 1000 * cpu / (5 * orders),
        "wall_ms_per_order": 1000 * wall / orders,
    }


def provider_stats() -> dict[str, int]:
    """The benchmark provider's figures since the last call (which resets them)."""
    import httpx

    port = os.environ.get("BENCH_PROVIDER_PORT")
    if not port:
        return {}
    return httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json()


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def batch(
    subject: Subject,
    orders: int,
    in_flight: int,
    latency: float,
    instrument: bool = False,
    sample: str | None = None,
) -> dict[str, Any]:
    """``orders`` orders at once, at most ``in_flight`` agent runs at a time, one process
    (``instrument``: callgrind counts the batch alone, see ``plain_batch.counting``;
    ``sample``: a file for the batch's stack samples, see ``sampler``)."""
    from benchmarks.plain_batch import counting
    from benchmarks.sampler import Sampler

    sampler = Sampler() if sample else None

    ids = [ORDERS[i % 3] for i in range(orders)]
    concurrent, _ = subject.at(latency)
    for order_id in ORDERS:
        await concurrent(order_id)
    provider_stats()
    cpu0, start = _cpu(), time.perf_counter()
    if instrument:
        counting(True)
    if sampler:
        sampler.start()
    if subject.impl == "ours":
        latencies = await _ours_batch(subject, ids, in_flight, latency)
    else:
        latencies = await _baseline_batch(subject, concurrent, ids, in_flight)
    if instrument:
        counting(False)
    if sampler and sample:
        sampler.stop()
        Path(sample).write_text(sampler.raw())
    return _batch_figures(
        orders, in_flight, latency, latencies, time.perf_counter() - start, _cpu() - cpu0
    )


def batch_in_workers(
    subject: Subject, orders: int, in_flight: int, latency: float, workers: int
) -> dict[str, Any]:
    """As ``track-order --workers N``: warm up, fork from a parent without threads, collect."""
    from order_tracking.agents.specialists import SPECIALIST_NAMES
    from order_tracking.cli.pool import Pool

    asyncio.run(composition.warm_up())
    ids = [ORDERS[i % 3] for i in range(orders)]
    settings = settings_for(subject.mode, latency, 600, subject.trace_dir)
    provider_stats()
    cpu0, start = _cpu(), time.perf_counter()
    pool = Pool(settings, workers, concurrency=in_flight, orders=len(ids))
    reports: list[Any] = []
    asyncio.run(pool.collect(ids, SPECIALIST_NAMES, on_report=reports.append))
    wall, cpu = time.perf_counter() - start, _cpu() - cpu0
    for report in reports:
        _check_ours(report.results)
    return _batch_figures(orders, in_flight, latency, [r.wall_s for r in reports], wall, cpu)


def _batch_figures(
    orders: int, in_flight: int, latency: float, latencies: list[float], wall: float, cpu: float
) -> dict[str, Any]:
    latencies.sort()
    return {
        "provider_max_in_flight": provider_stats().get("max_in_flight"),
        "orders": orders,
        "in_flight": in_flight,
        "latency_s": latency,
        "agent_runs_per_s": 5 * orders / wall,
        "p50_order_s": latencies[len(latencies) // 2],
        "p95_order_s": latencies[int(len(latencies) * 0.95) - 1],
        "cpu_ms_per_agent_run": 1000 * cpu / (5 * orders),
        "wall_s": wall,
    }


async def _ours_batch(
    subject: Subject, ids: list[str], in_flight: int, latency: float
) -> list[float]:
    tracker = subject.app(latency, deadline_s=600)
    reports: list[Any] = []
    await tracker.track_orders(ids, concurrency=in_flight, on_report=reports.append)
    for report in reports:
        _check_ours(report.results)
    return [r.wall_s for r in reports]


async def _baseline_batch(
    subject: Subject, concurrent: OrderRun, ids: list[str], in_flight: int
) -> list[float]:
    from benchmarks import baselines

    if subject.impl == "parallel":  # five agent runs per order in flight
        orders_gate = asyncio.Semaphore(max(1, in_flight // 5))

        async def one(order_id: str) -> float:
            start = time.perf_counter()
            async with orders_gate:
                _, times = await concurrent(order_id)
            _check(times)
            return time.perf_counter() - start

        return list(await asyncio.gather(*(one(i) for i in ids)))

    gate = asyncio.Semaphore(in_flight)

    async def gated(agent: Any, order_id: str) -> tuple[float, str]:
        async with gate:
            return await baselines.run_one(agent, order_id)

    async def order(order_id: str) -> float:
        start = time.perf_counter()
        runs = await asyncio.gather(*(gated(a, order_id) for a in subject.plain_agents))
        _check({a.name: r for a, r in zip(subject.plain_agents, runs, strict=True)})
        return time.perf_counter() - start

    return list(await asyncio.gather(*(order(i) for i in ids)))


def peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def main(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-traces-") as trace_dir:
        workers = spec.get("workers", 1)
        # With workers, each worker process installs its own tracing.
        traced = spec.get("traced", True) and workers == 1
        subject = Subject(
            spec["impl"], spec["mode"], traced, Path(trace_dir), spec.get("settings", {})
        )
        kind = spec["kind"]
        if kind == "fanout":
            out: Any = asyncio.run(fanout(subject, spec["latencies"], spec["reps"]))
        elif kind == "overhead":
            out = asyncio.run(overhead(subject, spec["orders"]))
        elif kind == "batch":
            args = (subject, spec["orders"], spec["in_flight"], spec["latency"])
            if workers > 1:
                out = batch_in_workers(*args, workers)
            else:
                out = asyncio.run(
                    batch(
                        *args, instrument=spec.get("instrument", False), sample=spec.get("sample")
                    )
                )
        else:
            raise SystemExit(f"unknown kind {kind!r}")
        if subject.tracing is not None:
            subject.tracing.flush()  # before the folder goes
    return {"spec": spec, "result": out, "peak_rss_mib": peak_rss_mib()}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
