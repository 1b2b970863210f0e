"""One message's path with fakes for the broker (what a real broker rarely shows on cue)."""

from __future__ import annotations

import asyncio

from stream_consumers import RecordingAnswer, names, options

from order_tracking.core.order_ids import OrderIdPattern
from order_tracking.stream import Delivery, StreamMetrics
from order_tracking.stream._consumer import Handling


class Published:
    def __init__(self) -> None:
        self.topics: list[str] = []

    async def publish(self, body: bytes, topic: str, *, key: str, headers) -> None:
        self.topics.append(topic)


class AllAnswered:
    async def seen(self, event_id: str) -> bool:
        return True

    async def remember(self, event_id: str) -> None:
        raise AssertionError("not answered again")


async def test_an_answered_event_delivered_too_often_is_acknowledged_not_dead_lettered():
    """Its result was published (the ack was lost, it came back again and again): a
    dead letter calling it poison would be false, and answering it again a duplicate."""
    transport, answer = Published(), RecordingAnswer()
    handling = Handling(
        transport,
        answer,
        options(names("often"), max_deliveries=3),
        pattern=OrderIdPattern(),
        metrics=StreamMetrics(),
        watch=None,
        write_line=None,
        stopping=asyncio.Event(),
    )
    handling.answered_ids = AllAnswered()
    handling.ready.set()
    acks: list[str] = []

    async def ack() -> None:
        acks.append("ack")

    async def abandon() -> None:
        acks.append("abandon")

    body = b'{"id": "often-1", "order_id": "ORD-1001"}'
    await handling.handle(Delivery(body, {}, delivered=9, ack=ack, abandon=abandon))
    assert acks == ["ack"] and transport.topics == [] and answer.calls == {}
    assert handling.counts["already_answered"] == 1 and handling.counts["dead_lettered"] == 0
