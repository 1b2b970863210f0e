"""``Watch``: what the process keeps an eye on across all its runs, in one handle the
runner, the service and the Temporal worker share: the metrics and the spend limits (hourly
and daily, in the store ``SPEND_LIMIT_STORE`` names; every model call is checked against them
by ``models.meter.ModelMeter``).

The runner asks :meth:`Watch.refusal` before it starts an order (a Temporal worker asks
:meth:`Watch.limit_reached` before an agent run) and tells the watch what each run ended as:
counted in the metrics and written to the log (one record per agent run)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.results import AgentResult, OrderReport, Status
from .logs import log_context
from .metrics import Metrics
from .spend import Refusal, SpendStore, open_store

if TYPE_CHECKING:
    from ..core.settings import Settings

__all__ = ["Watch", "refused_result"]

log = logging.getLogger("order_tracking.runner")


@dataclass(frozen=True)
class Watch:
    metrics: Metrics | None = None
    spend: SpendStore | None = None

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        store: SpendStore | None = None,
    ) -> Watch:
        """New metrics, and the spend limits the settings set (none when all are 0) in the
        store ``SPEND_LIMIT_STORE`` names (``store`` replaces it; ``clock``: the in-process
        store's)."""
        metrics = Metrics()
        spend = store if store is not None else open_store(settings, clock)
        metrics.watch_spend(spend)
        return cls(metrics, spend)  # charged even with no limit: the metrics show the spend

    async def limit_reached(self) -> Refusal | None:
        """Why nothing new may start now (a spend limit is reached, or a shared store cannot
        be reached); None while there is room. Counts nothing (``/ready`` asks, a worker
        asks per agent run)."""
        return await self.spend.check() if self.spend is not None else None

    async def refusal(self) -> Refusal | None:
        """:meth:`limit_reached`, counted as a refused order when it refuses."""
        refusal = await self.limit_reached()
        if refusal is not None:
            self.refused("budget")
        return refusal

    def refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.refusal(reason)

    def order_started(self) -> None:
        if self.metrics is not None:
            self.metrics.order_started()

    def order_finished(self, report: OrderReport | None) -> None:
        """``report`` is None when the order was cancelled from outside (no report)."""
        if self.metrics is not None:
            self.metrics.order_finished(report)

    def agent_finished(self, result: AgentResult, *, ran: bool = True) -> None:
        """Counted, and one INFO record (what ``LOG_FORMAT=json`` shows): call it inside the
        run's trace, so the record carries its trace id. ``ran=False``: refused before it
        started, so not a duration."""
        if self.metrics is not None:
            self.metrics.agent_finished(result, ran=ran)
        with log_context(agent=result.agent):
            log.info(
                "agent finished: %s in %.3fs%s",
                result.status.value,
                result.elapsed_s,
                f" ({result.error})" if result.error else "",
            )


def refused_result(agent: str, refusal: Refusal) -> AgentResult:
    """An agent run that was not started: a spend limit is reached."""
    return AgentResult(agent, Status.BUDGET, "", refusal.reason, 0.0)
