"""What the consumer needs from a broker, one ``Transport`` per kind, all on FastStream (one
API for NATS, Redis and Kafka, and in-memory test brokers for each): subscribe a handler to a
topic in a consumer group, publish, remember answered event ids, and read the group's lag.

``_run.transport_for(url)`` picks the kind from the URL's scheme; the kinds live in
``_nats``, ``_redis`` and ``_kafka``. Nothing here is imported until a stream command runs.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "TOPIC_PATTERN",
    "AnsweredIds",
    "ConnectionEvents",
    "Delivery",
    "FastStreamTransport",
    "InProcessIds",
    "Subscription",
    "Transport",
    "answered_key",
    "check_topic",
]

# One rule for every broker: a NATS subject (dots are levels), a Redis stream key and a
# Kafka topic all take these (no wildcards, no spaces).
TOPIC_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")


def check_topic(name: str, option: str) -> str:
    """``name`` if it is a topic every broker takes, else ``ValueError`` naming ``option``."""
    if not TOPIC_PATTERN.fullmatch(name) or ".." in name or name.endswith("."):
        raise ValueError(
            f"{option} must be 1 to 200 letters, digits, '.', '_' or '-' (not starting with "
            f"'.' or '-'), got {name[:60]!r}"
        )
    return name


@dataclass(frozen=True)
class Delivery:
    """One message as the broker handed it over: its bytes and headers, how many times it has
    been delivered (1 the first time; brokers that do not count say 1), and what to do with
    it: ``ack`` (done), ``abandon`` (give it back for redelivery now), ``progress`` (still
    working on it: not yet due for redelivery; None where the broker needs no word)."""

    body: bytes
    headers: Mapping[str, str]
    delivered: int
    ack: Callable[[], Awaitable[None]]
    abandon: Callable[[], Awaitable[None]]
    progress: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Subscription:
    """Where the consumer reads: the topic, the group that shares its events, this
    consumer's name in it, events in flight at most, and after how long an event a consumer
    took and never answered (it died) goes to another."""

    topic: str
    group: str
    consumer: str
    concurrency: int
    redeliver_after_s: float


class AnsweredIds(Protocol):
    """Event ids already answered, kept where every consumer of the group sees them."""

    async def seen(self, event_id: str) -> bool: ...

    async def remember(self, event_id: str) -> None: ...


class ConnectionEvents(Protocol):
    """Told when the broker connection drops and comes back (said once each)."""

    def lost(self, reason: str) -> None: ...

    def back(self) -> None: ...


class Transport(Protocol):
    kind: str  # nats, redis, kafka
    broker: Any  # the FastStream broker (a test wraps it in its in-memory test broker)
    # Where answered event ids are kept: "broker" (shared by the group) or "process".
    answered_store: str

    def subscribe(self, handler: Callable[..., Awaitable[None]], where: Subscription) -> None:
        """Register ``handler(message)`` (before ``connect``)."""

    def declare(self, topic: str) -> None:
        """A topic this process will publish to (before ``connect``)."""

    async def connect(self) -> None:
        """Connect and start the subscriptions; raises when the broker cannot be reached."""

    async def stop_fetching(self) -> None:
        """No more messages are fetched; those in flight can still be acknowledged."""

    async def close(self) -> None: ...

    async def publish(
        self, body: bytes, topic: str, *, key: str, headers: Mapping[str, str]
    ) -> None:
        """Durably on the broker before it returns (a JetStream or Kafka ack, an XADD)."""

    async def answered(self, group: str, ttl_s: float) -> AnsweredIds: ...

    async def lag(self, where: Subscription) -> int | None:
        """Events in the topic the group has not been handed yet, where the broker says."""

    def delivery(self, message: Any) -> Delivery: ...


class FastStreamTransport:
    """What every kind shares: a FastStream broker, the subscriptions made on it, and its
    life (start, stop fetching, stop)."""

    def __init__(self, broker: Any, events: ConnectionEvents) -> None:
        self.broker, self.events, self.closing = broker, events, False
        self._subscribers: list[Any] = []

    def _subscribed(self, subscriber: Any, handler: Callable[..., Awaitable[None]]) -> None:
        subscriber(handler)
        self._subscribers.append(subscriber)

    def declare(self, topic: str) -> None:
        self.broker.publisher(topic)

    async def connect(self) -> None:
        await self.broker.start()

    async def stop_fetching(self) -> None:
        for subscriber in self._subscribers:
            await subscriber.stop()

    async def close(self) -> None:
        self.closing = True  # the connection's own "disconnected" is no outage now
        await self.broker.stop()


def answered_key(event_id: str) -> str:
    """An event id as a key every store takes (NATS key-value keys allow few characters)."""
    return hashlib.blake2b(event_id.encode(), digest_size=16).hexdigest()


class InProcessIds:
    """Answered ids remembered by this process only (the most recent ``size``): for a broker
    with no store of its own (Kafka), where the output is idempotent instead (see docs)."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    async def seen(self, event_id: str) -> bool:
        return event_id in self._ids

    async def remember(self, event_id: str) -> None:
        self._ids[event_id] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


async def raw_body(message: Any) -> bytes:
    """FastStream decoder: the bytes as they came. The consumer decodes and checks them
    itself, so a message that is not JSON reaches it (and the dead-letter topic) instead of
    failing inside the library, unacknowledged, forever."""
    return message.body
