"""The Kafka path through FastStream's in-memory Kafka test broker (no package ships a Kafka
server, so Kafka itself is never run here): events answered and published keyed by event id,
bad messages dead-lettered, a repeated event answered once by this process."""

from __future__ import annotations

import asyncio
import json

from faststream.kafka import TestKafkaBroker
from stream_consumers import RecordingAnswer, names, options, run_consumer

from order_tracking.stream import ConnectionLines, transport_for
from order_tracking.stream._brokers import raw_body


async def test_kafka_in_memory():
    where = names("kafka")
    url = "kafka://127.0.0.1:9092"
    transport = transport_for(url, ConnectionLines(url))
    assert transport.kind == "kafka" and transport.answered_store == "process"
    results: list[dict] = []
    letters: list[dict] = []

    @transport.broker.subscriber(where["results"], decoder=raw_body)
    async def on_result(body) -> None:
        results.append(json.loads(body))

    @transport.broker.subscriber(where["dead_letter"], decoder=raw_body)
    async def on_letter(body) -> None:
        letters.append(json.loads(body))

    spied: list[bytes] = []

    @transport.broker.subscriber(f"{where['topic']}-spy", decoder=raw_body)
    async def on_spy(body) -> None:  # a reply_to header names it: nothing may come
        spied.append(body)

    answer = RecordingAnswer()
    stop, started = asyncio.Event(), asyncio.Event()
    async with TestKafkaBroker(transport.broker, connect_only=True) as broker:
        consumer = asyncio.create_task(
            run_consumer(
                url,
                answer,
                options(where, idle_s=None),
                transport=transport,
                stop=stop,
                started=started,
            )
        )
        await asyncio.wait_for(started.wait(), 10)
        for body in (
            b'{"id": "k1", "order_id": "ORD-1001"}',
            b'{"id": "k2", "order_id": "ORD-1002", "question": "When?"}',
            b"{not json",
            b'{"id": "k3", "order_id": "ORD-X"}',
            b'{"id": "k1", "order_id": "ORD-1001"}',  # the same event again
        ):
            headers = {"traceparent": "junk", "reply_to": f"{where['topic']}-spy"}
            await broker.publish(body, where["topic"], headers=headers)
        stop.set()
        summary = await asyncio.wait_for(consumer, 10)
    assert sorted(r["event_id"] for r in results) == ["k1", "k2"]
    assert [r["question"] for r in results if r["event_id"] == "k2"] == ["When?"]
    assert sorted(x["reason"][:15] for x in letters) == ["not JSON (Expec", "order_id: inval"]
    assert [x["event_id"] for x in letters if x["event_id"]] == ["k3"]
    assert (summary.answered, summary.dead_lettered, summary.already_answered) == (2, 2, 1)
    assert answer.calls == {"k1": 1, "k2": 1}
    assert spied == []
