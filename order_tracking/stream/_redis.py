"""Redis streams: each topic is a stream read by a consumer group (XREADGROUP); what a
member took and never acknowledged (it died) is claimed by another once it has been idle for
the redelivery time (XAUTOCLAIM, a second subscription on the same group; a member working on
an entry keeps it fresh by claiming it again itself); answered event ids
are keys with a TTL (one per event, so each expires on its own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from . import _brokers as brokers
from ._brokers import ConnectionEvents, Delivery, FastStreamTransport, Subscription

__all__ = ["RedisTransport"]

POLL_MS = 1_000  # a read waits this long for messages before asking again


class RedisTransport(FastStreamTransport):
    kind = "redis"
    answered_store = "broker"

    def __init__(self, url: str, events: ConnectionEvents) -> None:
        from faststream.redis import RedisBroker

        super().__init__(RedisBroker(url, logger=None, graceful_timeout=None), events)
        self._groups: set[tuple[str, str]] = set()

    def subscribe(self, handler: Callable[..., Awaitable[None]], where: Subscription) -> None:
        from faststream import AckPolicy
        from faststream.redis import StreamSub

        self._groups.add((where.topic, where.group))
        self._consumer = where.consumer
        idle_ms = max(1, int(where.redeliver_after_s * 1000))
        for claim in (None, idle_ms):  # new entries, then those abandoned by a member
            subscriber = self.broker.subscriber(
                stream=StreamSub(
                    where.topic,
                    group=where.group,
                    consumer=where.consumer,
                    polling_interval=POLL_MS if claim is None else min(POLL_MS, idle_ms),
                    min_idle_time=claim,
                ),
                ack_policy=AckPolicy.MANUAL,
                max_workers=max(1, where.concurrency // 2) if claim else where.concurrency,
                message_format=_checked_format(),
                no_reply=True,  # a reply_to header is a stranger's subject: never publish there
                decoder=brokers.raw_body,
            )
            self._subscribed(subscriber, handler)

    def declare(self, topic: str) -> None:
        self.broker.publisher(stream=topic)

    async def connect(self) -> None:
        from redis.exceptions import ResponseError

        await self.broker.connect()
        for topic, group in self._groups:
            # From the stream's start: what was published before the first consumer came is
            # answered too (FastStream would start a new group at the end).
            try:
                await self.broker._connection.xgroup_create(topic, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        await self.broker.start()

    async def publish(
        self, body: bytes, topic: str, *, key: str, headers: Mapping[str, str]
    ) -> None:
        await self.broker.publish(body, stream=topic, headers=dict(headers))

    async def answered(self, group: str, ttl_s: float) -> RedisAnswered:
        return RedisAnswered(self.broker._connection, f"order_tracking:answered:{group}:", ttl_s)

    async def lag(self, where: Subscription) -> int | None:
        groups = await self.broker._connection.xinfo_groups(where.topic)
        for entry in groups:
            name = entry.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == where.group:
                lag = entry.get("lag")
                return int(lag) if lag is not None else None
        return None

    def delivery(self, message: Any) -> Delivery:
        counts = message.raw_message.get("delivery_counts") or [0]
        raw = message.raw_message

        async def progress() -> None:
            # Redis has no "in progress": claiming the entry again (to this consumer, JUSTID:
            # its delivery count unchanged) makes it fresh, so no member claims it as idle.
            await self.broker._connection.xclaim(
                raw["channel"], message.group, self._consumer, 0, raw["message_ids"], justid=True
            )

        return Delivery(
            body=message.body,
            headers=dict(message.headers or {}),
            delivered=int(counts[0] or 0) + 1,  # earlier deliveries (XPENDING's) + this one
            ack=message.ack,
            abandon=message.nack,  # stays pending: claimed again once idle
            progress=progress,
        )


def _checked_format() -> Any:
    """FastStream's message format, except that an envelope whose headers are not a mapping
    is none: FastStream's parser would fail on it before the consumer saw the message (left
    pending, claimed again forever, never dead-lettered). Its bytes reach the consumer as
    they came, and are dead-lettered with the reason. Headers that are not text are dropped."""
    from faststream.redis.parser import BinaryMessageFormatV1

    class CheckedFormat(BinaryMessageFormatV1):
        @classmethod
        def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
            body, headers = super().parse(data)
            if not isinstance(headers, dict):
                return data, {}
            return body, {k: v for k, v in headers.items() if isinstance(v, str)}

    return CheckedFormat


class RedisAnswered:
    def __init__(self, client: Any, prefix: str, ttl_s: float) -> None:
        self.client, self.prefix, self.ttl_ms = client, prefix, max(1, int(ttl_s * 1000))

    async def seen(self, event_id: str) -> bool:
        return bool(await self.client.exists(self.prefix + brokers.answered_key(event_id)))

    async def remember(self, event_id: str) -> None:
        await self.client.set(self.prefix + brokers.answered_key(event_id), b"1", px=self.ttl_ms)
