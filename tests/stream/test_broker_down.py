"""A broker that goes away: the consumer waits for it (at start-up and mid-stream), says so
once each time and once when it is back, never exits on its own, and answers everything once
it is back. Its own NATS server (stopped and started again on the same port and data)."""

from __future__ import annotations

import asyncio
import json

from brokers import NatsServer, nats_messages, nats_publish
from stream_consumers import RecordingAnswer, names, options, run_consumer


async def wait_until(test, timeout_s: float = 120) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if test():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("gave up waiting")


async def test_a_broker_down_at_start_and_mid_stream(tmp_path, capsys):
    server = NatsServer(tmp_path / "nats")
    where = names("down")
    answer = RecordingAnswer()
    stop, started = asyncio.Event(), asyncio.Event()
    consumer = asyncio.create_task(
        run_consumer(server.url, answer, options(where, idle_s=None), stop=stop, started=started)
    )
    try:
        await asyncio.sleep(1.5)  # nobody there: it keeps trying
        assert not consumer.done()
        server.start()
        await asyncio.wait_for(started.wait(), 120)
        first = [json.dumps({"id": f"a{i}", "order_id": "ORD-1001"}).encode() for i in range(5)]
        await nats_publish(server.url, where["topic"], first)
        await wait_until(lambda: len(answer.calls) == 5)

        server.stop()  # mid-stream
        await asyncio.sleep(2.0)
        assert not consumer.done()
        server.start()
        second = [json.dumps({"id": f"b{i}", "order_id": "ORD-1002"}).encode() for i in range(5)]
        await nats_publish(server.url, where["topic"], second)
        await wait_until(lambda: len(answer.calls) == 10)
        stop.set()
        summary = await asyncio.wait_for(consumer, 120)
        assert summary.answered == 10 and set(answer.calls.values()) == {1}
        results = await nats_messages(server.url, where["results"])
        assert len(results) == 10
    finally:
        stop.set()
        await asyncio.gather(consumer, return_exceptions=True)
        server.stop()
    err = capsys.readouterr().err
    assert err.count("unreachable") == 2, err  # once per outage, not once per retry
    assert err.count("reachable again") == 2, err
