"""``Watch``: what the process keeps an eye on across all its runs, in one handle the
runner, the service and the Temporal worker share: the metrics and the hourly spend limit.

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
from .spend_limit import Refusal, SpendLimit

if TYPE_CHECKING:
    from ..core.settings import Settings

__all__ = ["Watch", "refused_result"]

log = logging.getLogger("order_tracking.runner")


@dataclass(frozen=True)
class Watch:
    metrics: Metrics | None = None
    spend: SpendLimit | None = None

    @classmethod
    def for_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> Watch:
        """New metrics, and the hourly spend limit ``MAX_COST_USD_PER_HOUR`` /
        ``MAX_TOKENS_PER_HOUR`` set (no limit when both are 0), on ``clock``."""
        metrics = Metrics()
        spend = SpendLimit(
            max_cost_usd=settings.max_cost_usd_per_hour,
            max_tokens=settings.max_tokens_per_hour,
            clock=clock,
        )
        metrics.watch_spend(spend)
        return cls(metrics, spend)  # charged even with no limit: the metrics show the spend

    def limit_reached(self) -> Refusal | None:
        """Why nothing new may start now (the hourly limit is reached); None while there is
        room. Counts nothing (``/ready`` asks, a worker asks per agent run)."""
        return self.spend.refusal() if self.spend is not None else None

    def refusal(self) -> Refusal | None:
        """:meth:`limit_reached`, counted as a refused order when it refuses."""
        refusal = self.limit_reached()
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
    """An agent run that was not started: the hourly limit is reached."""
    return AgentResult(agent, Status.BUDGET, "", refusal.reason, 0.0)
