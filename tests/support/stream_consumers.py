"""Consumers in the test's event loop: the real consumer on a real (or in-memory) broker, with
the answer passed in: the five agents through an ``App``, or a recording fake where what is
tested is delivery, not the agents (1,000 events through the agents would cost minutes)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field

from order_tracking.core.order_ids import OrderIdPattern
from order_tracking.core.results import AgentResult, OrderReport, Status
from order_tracking.stream import (
    ConnectionLines,
    ConsumeOptions,
    ConsumeSummary,
    StreamMetrics,
    Subscription,
    consume,
    transport_for,
)


@dataclass
class RecordingAnswer:
    """Answers at once (or after ``delay_s``) with a one-agent report; counts the calls per
    event id; raises for the order ids in ``poison``."""

    delay_s: float = 0.0
    poison: frozenset[str] = frozenset()
    calls: Counter = field(default_factory=Counter)

    async def __call__(self, event) -> OrderReport:
        self.calls[event.id] += 1
        if event.order_id in self.poison:
            raise RuntimeError(f"cannot answer {event.order_id}")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        result = AgentResult("order_status_agent", Status.OK, f"{event.order_id}: ok", None, 0.0)
        return OrderReport(event.order_id, (result,), self.delay_s)


def names(prefix: str) -> dict[str, str]:
    """Topics and a group of this test's own on a shared broker."""
    tag = f"{prefix}{uuid.uuid4().hex[:8]}"
    return {
        "topic": f"{tag}.in",
        "results": f"{tag}.out",
        "dead_letter": f"{tag}.dead",
        "group": f"{tag}-group",
    }


def options(
    where: dict[str, str],
    *,
    consumer: str = "c1",
    concurrency: int = 8,
    redeliver_after_s: float = 1.0,
    idle_s: float | None = 1.0,
    **more,
) -> ConsumeOptions:
    return ConsumeOptions(
        subscription=Subscription(
            topic=where["topic"],
            group=where["group"],
            consumer=consumer,
            concurrency=concurrency,
            redeliver_after_s=redeliver_after_s,
        ),
        results=more.pop("results", where["results"]),
        dead_letter=where["dead_letter"],
        exit_when_idle_s=idle_s,
        **more,
    )


async def run_consumer(
    url: str,
    answer,
    opts: ConsumeOptions,
    *,
    stop: asyncio.Event | None = None,
    metrics: StreamMetrics | None = None,
    watch=None,
    transport=None,
    write_line=None,
    started: asyncio.Event | None = None,
) -> ConsumeSummary:
    lines = ConnectionLines(url)
    return await consume(
        transport or transport_for(url, lines),
        answer,
        opts,
        stop or asyncio.Event(),
        pattern=OrderIdPattern(),
        metrics=metrics or StreamMetrics(),
        watch=watch,
        events=lines,
        write_line=write_line,
        started=started,
    )
