"""``track-order publish`` and ``track-order consume`` as processes on the session's real NATS
server, with the five agents (the offline model): every event answered, one trace per order
under the producer's, JSON logs carrying the event id, SIGTERM exiting 0, and a consumer
killed with SIGKILL mid-stream losing nothing. (A process start costs seconds: few of them.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from brokers import nats_publish
from stream_consumers import names

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


class Consumer:
    """``track-order consume`` in a process of its own, its output lines read as they come."""

    def __init__(
        self, url: str, where: dict[str, str], traces: Path, *args: str, env=None, stdout=None
    ) -> None:
        command = [
            sys.executable, "-m", "order_tracking.cli.main", "consume", "--broker", url,
            "--topic", where["topic"], "--group", where["group"],
            "--dead-letter", where["dead_letter"], *args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE,
            env={**os.environ, "MONOCLE_TRACE_OUTPUT_PATH": str(traces), **(env or {})},
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
            if stream is not None
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in iter(stream.readline, b""):
            into.append(line.decode())

    def wait_for(self, test, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while not test():
            if time.monotonic() > deadline or self.proc.poll() is not None and not test():
                raise AssertionError(f"gave up waiting; stderr: {''.join(self.err)[-2000:]}")
            time.sleep(0.02)

    def started(self) -> bool:
        return any("Consuming" in line for line in self.err)

    def finish(self, timeout_s: float = 240) -> int:
        code = self.proc.wait(timeout_s)
        for reader in self._readers:
            reader.join(5)
        return code

    def results(self) -> list[dict]:
        return [json.loads(line) for line in self.out if line.strip()]


def publish(url: str, topic: str, *ids: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "order_tracking.cli.main", "publish", *ids, "--broker", url,
         "--topic", topic, "--json"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line)["event_id"] for line in proc.stdout.splitlines()]


def test_publish_then_consume_answers_every_event_under_the_producers_trace(nats_url, tmp_path):
    """Published while the consumer runs; answered, logged with the event ids; SIGTERM then
    stops it with exit 0."""
    where = names("cli")
    consumer = Consumer(
        nats_url, where, tmp_path, "--results", "-", "--metrics-port", "0",
        env={"LOG_FORMAT": "json"},
    )  # fmt: skip
    consumer.wait_for(consumer.started)
    event_ids = publish(nats_url, where["topic"], "ORD-1001", "ord-1002", "ORD-1001")
    assert len(set(event_ids)) == 3  # the same order asked twice is two events
    traced = json.dumps({"id": "traced-1", "order_id": "ORD-1003"}).encode()
    header = {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"}
    asyncio.run(nats_publish(nats_url, where["topic"], [traced], headers=header))
    consumer.wait_for(lambda: len(consumer.out) == 4)
    [metrics_url] = [
        json.loads(line)["message"].split()[-1] for line in consumer.err if "Metrics on" in line
    ]
    scraped = httpx.get(metrics_url, timeout=30).text
    assert "order_tracking_stream_events_answered_total 4.0" in scraped
    assert 'order_tracking_orders_total{status="ok"} 4.0' in scraped
    assert "order_tracking_stream_consumer_lag" in scraped
    consumer.proc.send_signal(signal.SIGTERM)
    assert consumer.finish() == 0, "".join(consumer.err)
    results = consumer.results()
    assert sorted(r["event_id"] for r in results) == sorted([*event_ids, "traced-1"])
    assert all(all(a["ok"] for a in r["agents"]) for r in results)
    records = [json.loads(line) for line in consumer.err]
    assert records[-1]["message"] == "Stopped by SIGTERM."
    answered = [r for r in records if r["message"] == "event answered"]
    assert sorted(r["event_id"] for r in answered) == sorted([*event_ids, "traced-1"])
    # The traced event's trace is the producer's, its root a child of the producer's span.
    [result] = [r for r in results if r["event_id"] == "traced-1"]
    assert TRACE_ID in result["trace_file"]
    spans = json.loads(Path(result["trace_file"]).read_text())
    [root] = [s for s in spans if s["parent_id"].removeprefix("0x") == PARENT_SPAN]
    assert root["name"] == "order_tracking_asyncio"
    assert {s["context"]["trace_id"].removeprefix("0x") for s in spans} == {TRACE_ID}


def test_a_consumer_killed_mid_stream_loses_nothing(nats_url, tmp_path):
    """Two consumers in a group; one is killed with SIGKILL after its first answers. Every
    event is answered; an event answered twice is one the dead consumer had answered but not
    yet acknowledged (at most its events in flight)."""
    where = names("kill")
    count, concurrency = 24, 4
    args = ["--results", "-", "--concurrency", str(concurrency), "--redeliver-after", "1"]
    slow = {"OFFLINE_MODEL_LATENCY_S": "0.05"}
    victim = Consumer(nats_url, where, tmp_path, *args, env=slow)
    survivor = Consumer(nats_url, where, tmp_path, *args, "--exit-when-idle", "5", env=slow)
    victim.wait_for(victim.started)
    survivor.wait_for(survivor.started)
    event_ids = [f"k{i}" for i in range(count)]
    bodies = [
        json.dumps({"id": e, "order_id": f"ORD-{1001 + i % 3}"}).encode()
        for i, e in enumerate(event_ids)
    ]
    asyncio.run(nats_publish(nats_url, where["topic"], bodies))
    victim.wait_for(lambda: len(victim.out) >= 3)
    victim.proc.kill()
    victim.finish()
    assert survivor.finish(300) == 0, "".join(survivor.err)
    by_victim = {r["event_id"] for r in victim.results()}
    by_survivor = [r["event_id"] for r in survivor.results()]
    assert by_victim | set(by_survivor) == set(event_ids)  # nothing lost
    assert len(by_survivor) == len(set(by_survivor))
    duplicates = by_victim & set(by_survivor)
    assert len(duplicates) <= concurrency
    print(f"killed after {len(by_victim)} answers; answered twice: {len(duplicates)}")


def test_a_closed_stdout_stops_the_consumer_and_gives_the_events_back(nats_url, tmp_path):
    """``consume --results - | head -1``: once nobody reads the reports the consumer stops
    (it retried the write for ever before, holding the event), and what it could not write
    is answered by the next consumer."""
    from stream_consumers import RecordingAnswer, options, run_consumer

    where = names("pipe")
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads the reports
    try:
        consumer = Consumer(
            nats_url, where, tmp_path, "--results", "-", "--concurrency", "1", stdout=write_end
        )
    finally:
        os.close(write_end)
    try:
        consumer.wait_for(consumer.started)
        event_ids = publish(nats_url, where["topic"], "ORD-1001", "ORD-1002")
        assert consumer.finish(120) == 0, "".join(consumer.err)
    finally:
        consumer.proc.kill()
    err = "".join(consumer.err)
    assert "0 answered" in err and "given back" in err, err
    answer = RecordingAnswer()
    asyncio.run(run_consumer(nats_url, answer, options(where, consumer="next", idle_s=2)))
    assert sorted(answer.calls) == sorted(event_ids)
