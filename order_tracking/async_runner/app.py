"""``App``: what a run needs, built once by the composition root (``composition.build``),
and how it runs orders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..answers.policy import AnswerCheck
from ..core.results import BatchSummary, OrderReport, ReportCallback, ResultCallback, RunLimits
from ..core.settings import Settings

if TYPE_CHECKING:
    from google.adk.agents import Agent, BaseAgent

    from ..agents.tools import Tool
    from ..backends import Backends
    from ..models.gateway import ModelFactory
    from ..ops.watch import Watch
    from ..tracing.setup import Tracing

__all__ = ["App"]


@dataclass(frozen=True)
class App:
    """What a run needs, built once: the specialists, their models and tools, the backends
    the tools read, tracing, the limits, the check every answer goes through, the watch
    (metrics, the hourly spend limit). ``aclose()``
    releases the backends' connections."""

    settings: Settings
    models: ModelFactory
    agents: tuple[BaseAgent, ...]
    tracing: Tracing | None
    limits: RunLimits
    backends: Backends
    tools: dict[str, Tool]
    answer_check: AnswerCheck | None = None
    watch: Watch | None = None  # metrics and the hourly spend limit

    def coordinator(self) -> Agent:
        """The ``adk web`` coordinator, with its own specialist instances."""
        from ..agents.build import build_root_agent

        return build_root_agent(self.models, self.settings.max_input_chars, tools=self.tools)

    async def aclose(self) -> None:
        await self.backends.aclose()

    async def track_order(
        self,
        order_id: str,
        *,
        stop: asyncio.Event | None = None,
        gate: asyncio.Semaphore | None = None,
        on_result: ResultCallback | None = None,
    ) -> OrderReport:
        """One order, every agent, one trace (see ``async_runner.track_order``)."""
        from .fanout import track_order

        return await track_order(
            order_id,
            self.agents,
            self.tracing,
            limits=self.limits,
            stop=stop,
            gate=gate,
            on_result=on_result,
            check=self.answer_check,
            watch=self.watch,
        )

    async def track_orders(
        self,
        order_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        stop: asyncio.Event | None = None,
        on_result: ResultCallback | None = None,
        on_report: ReportCallback | None = None,
    ) -> BatchSummary:
        """Several orders, streamed, at most ``concurrency`` orders and agent runs in flight
        (see ``async_runner.track_orders``)."""
        from .fanout import track_orders

        return await track_orders(
            order_ids,
            self.agents,
            self.tracing,
            concurrency=concurrency,
            limits=self.limits,
            stop=stop,
            on_result=on_result,
            on_report=on_report,
            check=self.answer_check,
            watch=self.watch,
        )
