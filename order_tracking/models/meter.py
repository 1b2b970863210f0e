"""What each call to a configured model spent, seen from outside the call: counted in the
metrics and charged to the process's hourly limit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..core.settings import OFFLINE_MODEL
from ..ops.logs import say
from ..ops.spend_limit import Refusal
from .resilience import BudgetExceededError, current_usage, has_price

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..ops.metrics import Metrics
    from ..ops.spend_limit import SpendLimit

__all__ = ["ModelMeter", "warn_unpriced"]


class ModelMeter:
    """An attempt guard, innermost: every call to a configured model checked against the
    hourly ``spend`` before it is made (an estimate held while it runs, ``SpendLimit.admit``)
    and settled after, counted (a retry, a failure), its tokens and cost added up by model.

    What the call spent is read off the run's own accounting (``RunUsage``), which the model
    wrapper fills in inside the attempt: the meter adds no bookkeeping of its own to the call.
    """

    def __init__(self, metrics: Metrics | None, spend: SpendLimit | None) -> None:
        self.metrics, self.spend = metrics, spend

    @asynccontextmanager
    async def attempt(self, model: str) -> AsyncIterator[None]:
        usage = current_usage()
        before = (usage.retries, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd)
        hold = self.spend.admit() if self.spend is not None else None
        if isinstance(hold, Refusal):  # no call made: the agent's answer says why (BUDGET)
            raise BudgetExceededError(hold.reason)
        called, failed = True, False
        try:
            yield
        except BudgetExceededError:  # refused by the run's budget: no call was made
            called = False
            raise
        except Exception:
            failed = True
            raise
        finally:
            prompt = usage.prompt_tokens - before[1]
            completion = usage.completion_tokens - before[2]
            cost = usage.cost_usd - before[3]
            if self.spend is not None and hold is not None:
                self.spend.settle(hold, prompt + completion, cost)
            if self.metrics is not None and called:
                self.metrics.model_call(
                    model, usage.retries - before[0], failed, prompt, completion, cost
                )


def warn_unpriced(settings: Settings) -> None:
    """A cost limit cannot see what LiteLLM has no price for: say so once, at start-up."""
    names = {settings.default_model, *settings.model_overrides.values(), *settings.fallback_models}
    unpriced = sorted(n for n in names if n != OFFLINE_MODEL and not has_price(n))
    if unpriced:
        say(
            f"MAX_COST_USD_PER_HOUR: LiteLLM has no price for {', '.join(unpriced)}; its calls "
            "count as $0 (MAX_TOKENS_PER_HOUR counts them)",
            logging.WARNING,
        )
