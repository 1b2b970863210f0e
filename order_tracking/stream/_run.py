"""A consumer's life: connect (retried with backoff while the broker is away, said once),
consume until told to stop or idle for long enough, then stop fetching, let what is in
flight finish within the deadline, give back what has not (so it is redelivered), close.
Also the producer's side (``publish_events``) and the answer through an ``App``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..core.order_ids import OrderIdPattern
from ..core.results import OrderReport
from ..ops.logs import say
from ._brokers import ConnectionEvents, Transport
from ._consumer import Answer, ConsumeOptions, Handling, message_handler
from ._event import Event, new_event
from ._metrics import StreamMetrics

if TYPE_CHECKING:
    from ..async_runner.app import App
    from ..ops.watch import Watch

__all__ = [
    "ConnectionLines",
    "ConsumeSummary",
    "answering",
    "consume",
    "publish_events",
    "transport_for",
]

LOGGER = "order_tracking.stream"
LAG_EVERY_S = 5.0
CONNECT_TIMEOUT_S = 10.0


def shown_url(url: str) -> str:
    """A broker URL as said in a line: scheme, host and port (never a password)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class ConnectionLines:
    """Says once that the broker went away (and why), once that it is back."""

    def __init__(self, url: str) -> None:
        self.url, self.down = shown_url(url), False

    def lost(self, reason: str) -> None:
        if not self.down:
            self.down = True
            say(
                f"broker {self.url} unreachable ({reason[:200]}); retrying with backoff",
                logging.WARNING,
                LOGGER,
            )

    def back(self) -> None:
        if self.down:
            self.down = False
            say(f"broker {self.url} reachable again", logger=LOGGER)


@dataclass(frozen=True)
class ConsumeSummary:
    consumed: int
    answered: int
    dead_lettered: int
    already_answered: int
    abandoned: int
    connected: bool


def answering(app: App) -> Answer:
    """The five agents through ``app``, one trace per order: a child of the producer's trace
    when the event carried a ``traceparent``, else a trace of its own."""

    async def answer(event: Event) -> OrderReport:
        if event.traceparent is None:
            return await app.track_order(event.order_id)
        from opentelemetry import context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract({"traceparent": event.traceparent})
        token = context.attach(parent)
        try:
            return await app.track_order(event.order_id)
        finally:
            context.detach(token)

    return answer


async def consume(
    transport: Transport,
    answer: Answer,
    options: ConsumeOptions,
    stop: asyncio.Event,
    *,
    pattern: OrderIdPattern,
    metrics: StreamMetrics,
    watch: Watch | None = None,
    events: ConnectionLines | None = None,
    write_line: Callable[[bytes], None] | None = None,
    started: asyncio.Event | None = None,
) -> ConsumeSummary:
    """Consume until ``stop`` is set (or the stream has been idle ``exit_when_idle_s``)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    handling = Handling(
        transport,
        answer,
        options,
        pattern=pattern,
        metrics=metrics,
        watch=watch,
        write_line=write_line,
        stopping=stopping,
    )
    tasks: set[asyncio.Task[None]] = set()
    last_activity = [loop.time()]

    def activity() -> None:
        last_activity[0] = loop.time()

    transport.subscribe(message_handler(handling, tasks, activity), options.subscription)
    for topic in (options.results, options.dead_letter):
        if topic is not None:
            transport.declare(topic)
    connected = await _connect(transport, stop, events)
    background: list[asyncio.Task[None]] = []
    try:
        if connected:
            handling.answered_ids = await _until(
                stop,
                handling.retrying(
                    "answered ids",
                    lambda: transport.answered(options.subscription.group, options.answered_ttl_s),
                ),
            )
        if connected and handling.answered_ids is not None:
            handling.ready.set()
            activity()
            sub = options.subscription
            say(
                f"Consuming {sub.topic!r} on {transport.kind} as {sub.consumer!r} in group "
                f"{sub.group!r}, {sub.concurrency} in flight at most.",
                logger=LOGGER,
            )
            if started is not None:
                started.set()
            background.append(asyncio.create_task(_watch_lag(transport, sub, metrics)))
            idle = options.exit_when_idle_s
            waits = [asyncio.create_task(stop.wait())]
            if idle is not None:
                waits.append(asyncio.create_task(_idle(tasks, last_activity, idle)))
            background.extend(waits)
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        with contextlib.suppress(Exception):
            await transport.stop_fetching()
        await _drain(tasks, options.drain_s)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.close(), 5.0)
    c = handling.counts
    return ConsumeSummary(
        c["consumed"],
        c["answered"],
        c["dead_lettered"],
        c["already_answered"],
        c["abandoned"],
        connected,
    )


async def _until(stop: asyncio.Event, work: object) -> object | None:
    """``work``, or None once ``stop`` is set first."""
    task = asyncio.ensure_future(work)  # type: ignore[arg-type]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None


async def _connect(
    transport: Transport, stop: asyncio.Event, events: ConnectionLines | None
) -> bool:
    """Until connected (True) or ``stop`` (False), waiting 0.5 s, 1 s, 2 s … 30 s between
    tries: the command does not exit because the broker is away."""
    delay = 0.5
    while not stop.is_set():
        try:
            await asyncio.wait_for(transport.connect(), CONNECT_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - unreachable, refused, timed out: all wait
            if events is not None:
                events.lost(str(exc) or type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)
            continue
        if events is not None:
            events.back()
        return True
    return False


async def _idle(tasks: set[asyncio.Task[None]], last: list[float], idle_s: float) -> None:
    loop = asyncio.get_running_loop()
    while tasks or loop.time() - last[0] < idle_s:
        await asyncio.sleep(min(0.2, idle_s / 4))


async def _watch_lag(transport: Transport, where: object, metrics: StreamMetrics) -> None:
    while True:
        try:
            lag = await asyncio.wait_for(transport.lag(where), 5.0)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - the broker is away: the gauge keeps its last value
            lag = ...
        if lag is not ...:
            metrics.lag.set(-1 if lag is None else lag)
        await asyncio.sleep(LAG_EVERY_S)


async def _drain(tasks: set[asyncio.Task[None]], deadline_s: float) -> None:
    """What is in flight finishes within ``deadline_s``; the rest is cancelled, and each
    gives its message back (unacknowledged: the broker redelivers it)."""
    pending = set(tasks)
    if pending:
        say(
            f"Stopping: {len(pending)} event(s) in flight, {deadline_s:g} s to finish.",
            logger=LOGGER,
        )
        _, pending = await asyncio.wait(pending, timeout=deadline_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def publish_events(
    transport: Transport,
    topic: str,
    orders: Iterable[tuple[str, str | None]],
    *,
    on_published: Callable[[str, str], None],
    headers: dict[str, str] | None = None,
) -> int:
    """Each (order id, question) as a new event on ``topic`` (each its own event id: the
    same order asked twice is two events); ``on_published(event_id, order_id)`` after the
    broker has it. Connects once (the caller bounds the wait)."""
    transport.declare(topic)
    await transport.connect()
    count = 0
    try:
        for order_id, question in orders:
            event_id, body = new_event(order_id, question)
            await transport.publish(body, topic, key=event_id, headers=headers or {})
            on_published(event_id, order_id)
            count += 1
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.close(), 5.0)
    return count


def transport_for(url: str, events: ConnectionEvents) -> Transport:
    """The transport for ``url`` (checked already: ``core.values.broker_url``)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("nats", "tls"):
        from ._nats import NatsTransport

        return NatsTransport(url, events)
    if scheme in ("redis", "rediss"):
        from ._redis import RedisTransport

        return RedisTransport(url, events)
    from ._kafka import KafkaTransport

    return KafkaTransport(url, events)
