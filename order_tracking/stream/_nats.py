"""NATS JetStream: each topic is a subject with a stream of its own (so what is published
waits there, and results are kept too); a group is a durable pull consumer the group's
members fetch from; answered event ids are a key-value bucket with a TTL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._brokers import (
    ConnectionEvents,
    Delivery,
    FastStreamTransport,
    Subscription,
    answered_key,
    raw_body,
)

__all__ = ["NatsTransport"]

FETCH_TIMEOUT_S = 1.0  # a pull waits this long for messages before asking again


def stream_name(topic: str) -> str:
    """The JetStream stream holding ``topic`` (stream names take no dots)."""
    return topic.replace(".", "_")


class NatsTransport(FastStreamTransport):
    kind = "nats"
    answered_store = "broker"

    def __init__(self, url: str, events: ConnectionEvents) -> None:
        from faststream.nats import NatsBroker

        async def disconnected() -> None:
            if not self.closing:  # our own close is no outage
                events.lost("disconnected")

        async def reconnected() -> None:
            events.back()

        async def error(exc: Exception) -> None:  # the client's own default prints them
            if not self.closing:
                events.lost(str(exc) or type(exc).__name__)

        broker = NatsBroker(
            url,
            logger=None,
            graceful_timeout=None,  # the consumer drains in-flight events itself
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # forever: the command does not give up on its own
            reconnect_time_wait=1,
            connect_timeout=2,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        super().__init__(broker, events)
        self._streams: dict[str, Any] = {}

    def _stream(self, topic: str) -> Any:
        from faststream.nats import JStream

        if topic not in self._streams:
            self._streams[topic] = JStream(stream_name(topic), subjects=[topic])
        return self._streams[topic]

    def subscribe(self, handler: Callable[..., Awaitable[None]], where: Subscription) -> None:
        from faststream import AckPolicy
        from faststream.nats import PullSub
        from nats.js.api import AckPolicy as JsAck
        from nats.js.api import ConsumerConfig

        config = ConsumerConfig(
            ack_policy=JsAck.EXPLICIT,
            ack_wait=where.redeliver_after_s,
            max_deliver=-1,  # the consumer dead-letters a poison message itself, with why
            max_ack_pending=-1,
        )
        subscriber = self.broker.subscriber(
            where.topic,
            stream=self._stream(where.topic),
            durable=where.group,
            config=config,
            # One at a time: at most one fetched event waits, unwatched, for a free slot.
            pull_sub=PullSub(batch_size=1, timeout=FETCH_TIMEOUT_S),
            ack_policy=AckPolicy.MANUAL,
            max_workers=where.concurrency,
            no_reply=True,  # a reply_to header is a stranger's subject: never publish there
            decoder=raw_body,
        )
        self._subscribed(subscriber, handler)

    def declare(self, topic: str) -> None:
        self.broker.publisher(topic, stream=self._stream(topic))

    async def publish(
        self, body: bytes, topic: str, *, key: str, headers: Mapping[str, str]
    ) -> None:
        # JetStream answers once the stream has stored it; Nats-Msg-Id lets it drop a
        # duplicate publish of the same key within its window (a retried result).
        await self.broker.publish(
            body,
            topic,
            headers={**headers, "Nats-Msg-Id": f"{topic}:{key}"},
            stream=stream_name(topic),
        )

    async def answered(self, group: str, ttl_s: float) -> NatsAnswered:
        bucket = await self.broker.key_value(f"answered_{stream_name(group)}", ttl=ttl_s)
        return NatsAnswered(bucket)

    async def lag(self, where: Subscription) -> int | None:
        js = self.broker.config.connection_state.stream
        info = await js.consumer_info(stream_name(where.topic), where.group)
        return int(info.num_pending or 0)

    def delivery(self, message: Any) -> Delivery:
        try:
            delivered = int(message.raw_message.metadata.num_delivered or 1)
        except Exception:  # noqa: BLE001 - a test broker's message has no JetStream metadata
            delivered = 1
        return Delivery(
            body=message.body,
            headers=dict(message.headers or {}),
            delivered=delivered,
            ack=message.ack_sync,  # confirmed by the server: then it is truly done
            abandon=message.nack,
            progress=message.in_progress,
        )


class NatsAnswered:
    def __init__(self, bucket: Any) -> None:
        self.bucket = bucket

    async def seen(self, event_id: str) -> bool:
        from nats.js.errors import KeyNotFoundError

        try:
            await self.bucket.get(answered_key(event_id))
        except KeyNotFoundError:  # never written, deleted or expired
            return False
        return True

    async def remember(self, event_id: str) -> None:
        await self.bucket.put(answered_key(event_id), b"1")
