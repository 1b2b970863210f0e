"""Kafka: a topic read by a consumer group (Kafka spreads the partitions over its members),
offsets committed in order only after the result is published (FastStream's concurrent
manual-commit mode). Kafka has no store to remember answered events in: results are keyed
by event id (a compacted results topic keeps one per event), and this process remembers the
ids it answered. Run here only against FastStream's in-memory Kafka test broker: no package
ships a Kafka server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ._brokers import (
    ConnectionEvents,
    Delivery,
    FastStreamTransport,
    InProcessIds,
    Subscription,
    raw_body,
)

__all__ = ["KafkaTransport"]


class KafkaTransport(FastStreamTransport):
    kind = "kafka"
    answered_store = "process"

    def __init__(self, url: str, events: ConnectionEvents) -> None:
        from faststream.kafka import KafkaBroker

        parts = urlsplit(url)
        address = f"{parts.hostname}:{parts.port or 9092}"
        super().__init__(KafkaBroker(address, logger=None, graceful_timeout=None), events)

    def subscribe(self, handler: Callable[..., Awaitable[None]], where: Subscription) -> None:
        from faststream import AckPolicy

        subscriber = self.broker.subscriber(
            where.topic,
            group_id=where.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            max_workers=where.concurrency,
            no_reply=True,  # a reply_to header is a stranger's subject: never publish there
            decoder=raw_body,
        )
        self._subscribed(subscriber, handler)

    async def publish(
        self, body: bytes, topic: str, *, key: str, headers: Mapping[str, str]
    ) -> None:
        await self.broker.publish(body, topic, key=key.encode(), headers=dict(headers))

    async def answered(self, group: str, ttl_s: float) -> InProcessIds:
        return InProcessIds()

    async def lag(self, where: Subscription) -> int | None:
        return None  # not asked of Kafka here: the group's lag is the broker tools' to show

    def delivery(self, message: Any) -> Delivery:
        return Delivery(
            body=message.body,
            headers=dict(message.headers or {}),
            delivered=1,  # Kafka does not count deliveries: the consumer counts failures
            ack=message.ack,
            abandon=message.nack,
        )
