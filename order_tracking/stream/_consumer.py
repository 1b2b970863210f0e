"""One message, from the broker's hands to acknowledged: checked (a bad one is dead-lettered
with the reason, then acknowledged), looked up among the answered (a redelivered event whose
result was published is acknowledged, not answered again), answered by the five agents,
its report published, remembered as answered, and only then acknowledged. Anything that
fails on the way gives the message back for redelivery; a message given back too often is
dead-lettered as poison. Nothing a message holds can crash the consumer or block the stream.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.order_ids import OrderIdPattern
from ..core.results import OrderReport, Status
from ..ops.logs import log_context, say
from ._brokers import AnsweredIds, Delivery, Subscription, Transport
from ._event import MAX_EVENT_BYTES, Event, Rejected, check_event, dead_letter, result_message
from ._metrics import StreamMetrics

if TYPE_CHECKING:
    from ..ops.watch import Watch

__all__ = ["Answer", "ConsumeOptions", "Handling"]

log = logging.getLogger("order_tracking.stream")
T = TypeVar("T")

Answer = Callable[[Event], Awaitable[OrderReport]]
FAILURES_KEPT = 10_000  # events whose failures this process counts (brokers that do not)


@dataclass(frozen=True)
class ConsumeOptions:
    subscription: Subscription
    results: str | None  # a topic, or None: JSON Lines through ``write_line``
    dead_letter: str
    max_deliveries: int = 5
    drain_s: float = 20.0
    exit_when_idle_s: float | None = None
    max_event_bytes: int = MAX_EVENT_BYTES
    answered_ttl_s: float = 7 * 86_400.0


class Handling:
    """The per-message path, shared by every message of one consumer."""

    def __init__(
        self,
        transport: Transport,
        answer: Answer,
        options: ConsumeOptions,
        *,
        pattern: OrderIdPattern,
        metrics: StreamMetrics,
        watch: Watch | None,
        write_line: Callable[[bytes], None] | None,
        stopping: asyncio.Event,
    ) -> None:
        self.transport, self.answer, self.options = transport, answer, options
        self.pattern, self.metrics, self.watch = pattern, metrics, watch
        self.write_line, self.stopping = write_line, stopping
        self.answered_ids: AnsweredIds | None = None
        self.ready = asyncio.Event()  # the answered ids can be asked
        self.counts: dict[str, int] = dict.fromkeys(
            ("consumed", "answered", "dead_lettered", "already_answered", "abandoned"), 0
        )
        self._failures: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._working: dict[str, asyncio.Event] = {}  # event ids being answered here
        self._paused = False

    def _count(self, name: str) -> None:
        self.counts[name] += 1

    async def handle(self, delivery: Delivery) -> None:
        """Never raises but ``CancelledError`` (then the message is given back)."""
        self._count("consumed")
        self.metrics.consumed.inc()
        if delivery.delivered > 1:
            self.metrics.redelivered.inc()
        self.metrics.in_flight.inc()
        try:
            await self.ready.wait()
            await self._handle(delivery)
        except asyncio.CancelledError:  # shutdown past its deadline: someone else answers it
            await self._give_back(delivery)
            raise
        except Exception as exc:  # noqa: BLE001 - one message's failure stops nothing else
            log.warning("event given back for redelivery: %s", _describe(exc))
            await self._give_back(delivery)
        finally:
            self.metrics.in_flight.dec()

    async def _handle(self, delivery: Delivery) -> None:
        opts = self.options
        try:
            event = check_event(delivery.body, delivery.headers, self.pattern, opts.max_event_bytes)
        except Rejected as bad:
            with log_context(event_id=bad.event_id):
                await self._dead_letter(delivery, bad.reason, bad.event_id, "malformed")
            return
        with log_context(event_id=event.id, order_id=event.order_id):
            # Handed over again while this process still works on it (it waited longer than
            # the redelivery time): wait for that answer rather than answer it twice.
            while (working := self._working.get(event.id)) is not None:
                await self.keeping(delivery, working.wait())
            self._working[event.id] = asyncio.Event()
            try:
                await self._answer(delivery, event)
            finally:
                self._working.pop(event.id).set()

    async def _answer(self, delivery: Delivery, event: Event) -> None:
        opts = self.options
        assert self.answered_ids is not None
        answered = self.answered_ids
        # Asked first: an event answered already is acknowledged however often it came.
        if await self.retrying("answered ids", lambda: answered.seen(event.id)):
            log.info("event already answered: acknowledged, not answered again")
            self.metrics.duplicates.inc()
            self._count("already_answered")
            await delivery.ack()
            return
        failures, last_error = self._failures.get(event.id, (0, ""))
        attempts = max(delivery.delivered, failures + 1)
        if attempts > opts.max_deliveries:
            why = f" (last failure: {last_error})" if last_error else ""
            reason = f"delivered {attempts} times without an answer{why}"
            await self._dead_letter(delivery, reason, event.id, "poison")
            return
        await self._room(delivery)
        try:
            report = await self.keeping(delivery, self.answer(event))
        except Exception as exc:
            self._failed(event.id, _describe(exc))
            raise
        if all(r.status == Status.BUDGET for r in report.results):
            # Refused at a spend limit after all (another order took the room): it
            # waits in the broker rather than being answered with nothing.
            await self._give_back(delivery)
            return
        body = result_message(event, report)
        if self.options.results is None:  # a closed stdout is no outage: not retried
            assert self.write_line is not None
            self.write_line(body)
        else:
            topic = self.options.results
            await self.retrying(
                "result",
                lambda: self.transport.publish(body, topic, key=event.id, headers={}),
            )
        await self.retrying("answered ids", lambda: answered.remember(event.id))
        await delivery.ack()
        self._failures.pop(event.id, None)
        self._count("answered")
        self.metrics.answered.inc()
        log.info("event answered")

    async def _dead_letter(
        self, delivery: Delivery, reason: str, event_id: str | None, kind: str
    ) -> None:
        log.warning("dead-lettered: %s", reason)
        letter = dead_letter(
            reason,
            delivery.body,
            event_id=event_id,
            delivered=delivery.delivered,
            consumer=self.options.subscription.consumer,
        )
        key = event_id or str(uuid.uuid4())
        topic = self.options.dead_letter
        await self.retrying(
            "dead letter", lambda: self.transport.publish(letter, topic, key=key, headers={})
        )
        await delivery.ack()
        self._count("dead_lettered")
        self.metrics.dead_lettered.labels(kind).inc()

    async def _give_back(self, delivery: Delivery) -> None:
        self._count("abandoned")
        self.metrics.abandoned.inc()
        # Shielded and bounded: a broker that is away gets it back by redelivery anyway.
        try:
            await asyncio.wait_for(asyncio.shield(delivery.abandon()), 2.0)
        except (Exception, asyncio.CancelledError):  # noqa: BLE001, S110 - redelivered anyway
            pass

    def _failed(self, event_id: str, error: str) -> None:
        failures = self._failures.pop(event_id, (0, ""))[0] + 1
        self._failures[event_id] = (failures, error)
        while len(self._failures) > FAILURES_KEPT:
            self._failures.popitem(last=False)

    async def _room(self, delivery: Delivery) -> None:
        """Past a spend limit (hourly or daily, in the store every process sharing
        ``SPEND_LIMIT_STORE`` uses; or that store cannot be reached), wait (the message kept,
        every slot filling, so nothing more is fetched) instead of answering with nothing or
        dead-lettering."""
        refusal = await self.watch.limit_reached() if self.watch is not None else None
        while refusal is not None:
            if not self._paused:
                self._paused = True
                self.metrics.paused.set(1)
                say(
                    f"{refusal.reason}; no event is started until then (they wait in the broker)",
                    logging.WARNING,
                    "order_tracking.stream",
                )
            await self.keeping(delivery, asyncio.sleep(min(refusal.retry_after_s, 1.0)))
            refusal = await self.watch.limit_reached() if self.watch is not None else None
        if self._paused:
            self._paused = False
            self.metrics.paused.set(0)
            say("spend limit: events are started again", logger="order_tracking.stream")

    async def keeping(self, delivery: Delivery, work: Awaitable[T]) -> T:
        """``work``, telling the broker the message is still being worked on (so it is not
        handed to another consumer) every third of the redelivery time."""
        task = asyncio.ensure_future(work)
        every = self.options.subscription.redeliver_after_s / 3
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                if delivery.progress is not None:
                    try:
                        await delivery.progress()
                    except Exception:  # noqa: BLE001, S110 - the broker is away: redelivery
                        pass
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def retrying(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """A broker operation, tried again with backoff while the broker is away (said once
        here; the connection's own line says when it is back). Shutdown's deadline ends it."""
        delay, said = 0.1, False
        while True:
            try:
                return await operation()
            except Exception as exc:  # noqa: BLE001 - a broker error: try again
                if not said:
                    said = True
                    log.warning("%s: %s; retrying", what, _describe(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def message_handler(
    handling: Handling, tasks: set[asyncio.Task[None]], on_activity: Callable[[], None]
) -> Callable[..., Awaitable[None]]:
    """The FastStream handler: each message runs as a task of the consumer's own (so
    stopping the subscription stops fetching without cutting short what is in flight), and
    the handler waits for it, so the library's bounded slots are the bound on events in
    flight: when all are taken, nothing more is fetched."""
    from faststream import Context

    transport = handling.transport

    async def handler(message: Any = Context("message")) -> None:  # noqa: B008 - FastStream's way
        delivery = transport.delivery(message)
        if handling.stopping.is_set():
            await handling._give_back(delivery)
            return
        on_activity()
        task = asyncio.create_task(handling.handle(delivery))
        tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            tasks.discard(done)
            on_activity()

        task.add_done_callback(finished)
        await asyncio.shield(task)

    return handler
