"""What each call to a configured model spent, seen from outside the call: counted in the
metrics and charged to the spend limits (hourly, daily; in the store ``SPEND_LIMIT_STORE``
names), which are asked before the call with an estimate and settled after it."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..core.settings import OFFLINE_MODEL
from ..ops.logs import say
from ..ops.spend import Hold, Refusal, nanos
from .resilience import BudgetExceededError, current_usage, has_price

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..ops.metrics import Metrics
    from ..ops.spend import SpendStore

__all__ = ["ModelMeter", "warn_unpriced"]

_RECENT = 32  # calls per model the estimate looks back on


class ModelMeter:
    """An attempt guard, innermost: every call to a configured model counted (a retry, a
    failure, an answer from the cache), its tokens and cost added up by model and charged to
    the ``spend`` store.

    With a limit set, a call first holds its *estimate* in the store (the largest of this
    process's last calls to the model: a prompt grows as the run's tool results join it), and
    is refused (``BudgetExceededError``: the agent's run ends ``budget``) when the windows
    have no room for it; the hold is settled to what the call spent once it has ended. So a
    limit is overshot by at most what the calls in flight spend beyond their estimates; the
    first calls of a process, with nothing to estimate from, hold nothing.

    What the call spent is read off the run's own accounting (``RunUsage``), which the model
    wrapper fills in inside the attempt: the meter adds no bookkeeping of its own to the call.
    """

    def __init__(self, metrics: Metrics | None, spend: SpendStore | None) -> None:
        self.metrics, self.spend = metrics, spend
        self._recent: dict[str, deque[tuple[int, int]]] = {}

    def estimate(self, model: str) -> tuple[int, int]:
        """Tokens and nano-dollars a call to ``model`` is expected to spend."""
        recent = self._recent.get(model)
        if not recent:
            return 0, 0
        return max(t for t, _ in recent), max(n for _, n in recent)

    @asynccontextmanager
    async def attempt(self, model: str) -> AsyncIterator[None]:
        usage = current_usage()
        before = (
            usage.retries,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cost_usd,
            usage.cache_hits,
            usage.cache_misses,
            usage.saved_tokens,
            usage.saved_cost_usd,
        )
        hold: Hold | None = None
        if self.spend is not None and self.spend.limits.enabled:
            outcome = await self.spend.reserve(*self.estimate(model))
            if isinstance(outcome, Refusal):
                if self.metrics is not None:
                    self.metrics.calls_refused.labels(model).inc()
                raise BudgetExceededError(outcome.reason)
            hold = outcome
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
            hits = usage.cache_hits - before[4]
            spent = (prompt + completion, nanos(cost))
            if called and not hits and spent != (0, 0):
                self._recent.setdefault(model, deque(maxlen=_RECENT)).append(spent)
            if hold is not None:
                await self.spend.settle(hold, *spent)  # type: ignore[union-attr]
            elif self.spend is not None:  # no limit: counted for the metrics only
                await self.spend.reserve(*spent)
            if self.metrics is not None and called:
                if not hits:  # answered from the cache: no call reached the provider
                    self.metrics.model_call(
                        model, usage.retries - before[0], failed, prompt, completion, cost
                    )
                self.metrics.model_cache(
                    model,
                    hits,
                    usage.cache_misses - before[5],
                    usage.saved_tokens - before[6],
                    usage.saved_cost_usd - before[7],
                )


def warn_unpriced(settings: Settings) -> None:
    """A cost limit cannot see what LiteLLM has no price for: say so once, at start-up."""
    names = {settings.default_model, *settings.model_overrides.values(), *settings.fallback_models}
    unpriced = sorted(n for n in names if n != OFFLINE_MODEL and not has_price(n))
    if unpriced:
        say(
            f"MAX_COST_USD_PER_HOUR / _PER_DAY: LiteLLM has no price for {', '.join(unpriced)}; "
            "its calls count as $0 (MAX_TOKENS_PER_HOUR / _PER_DAY count them)",
            logging.WARNING,
        )
