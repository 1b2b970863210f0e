"""What one order run may spend, and what it has spent: tokens and cost shared by its agents,
model calls, retries, and each agent's deadline with the share of it each model may use.

The runner binds a ``RunUsage`` per agent run (:func:`bind_usage`); the model wrapper reads it
with :func:`current_usage`, so the accounting follows the run without being threaded through
ADK.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from google.adk.models.llm_response import LlmResponse


class BudgetExceededError(Exception):
    """A per-run token or cost cap was reached: the call was refused."""


@dataclass
class RunBudget:
    """Token and cost caps shared by the agents of one order run (0 means no cap)."""

    max_tokens: int = 0
    max_cost_usd: float = 0.0
    tokens: int = 0
    cost_usd: float = 0.0

    def check(self) -> None:
        if self.max_tokens and self.tokens >= self.max_tokens:
            raise BudgetExceededError(
                f"token budget of {self.max_tokens} for this run reached ({self.tokens} used)"
            )
        if self.max_cost_usd and self.cost_usd >= self.max_cost_usd:
            raise BudgetExceededError(
                f"cost budget of ${self.max_cost_usd:.4f} for this run reached "
                f"(${self.cost_usd:.4f} used)"
            )


def degraded_reserve_s(deadline_s: float) -> float:
    """Time kept back from the model chain so a degraded answer (an offline call, the tools,
    a second offline call) still fits in the deadline, even on a busy machine: 10% of the
    deadline, at least 0.5 s, at most 5 s and at most half the deadline."""
    return min(5.0, max(0.5, 0.1 * deadline_s), deadline_s / 2)


@dataclass
class RunUsage:
    """What one agent's run used; filled in by ``ResilientModel`` (and by the tools: the
    systems that were unavailable to it)."""

    budget: RunBudget = field(default_factory=RunBudget)
    model_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    degraded_because: str | None = None
    # Every model call of the run goes to the degraded model: the answer from the tools
    # alone, asked for when the model's own answer is not kept (ANSWER_CHECK=replace).
    degraded_only: bool = False
    unavailable: set[str] = field(default_factory=set)
    # LiteLLM's response cache (``models/cache.py``): calls answered from it, calls it had no
    # answer for, and what the answers taken from it would have cost.
    cache_hits: int = 0
    cache_misses: int = 0
    saved_tokens: int = 0
    saved_cost_usd: float = 0.0
    # When the agent's deadline falls (time.monotonic), and the time kept back from the
    # model chain so a degraded answer can still be given.
    deadline_at: float | None = None
    reserve_s: float = 0.0

    def start_deadline(self, deadline_s: float | None) -> None:
        """The agent's deadline starts now (``None``: no deadline)."""
        if deadline_s is not None:
            self.deadline_at = time.monotonic() + deadline_s
            self.reserve_s = degraded_reserve_s(deadline_s)

    def share_end(self, models_left: int, keep_reserve: bool = True) -> float | None:
        """When the next model in the chain must give up: an equal share of the time left
        (less the reserve for a degraded answer, when there is one to give)."""
        if self.deadline_at is None:
            return None
        now = time.monotonic()
        left = self.deadline_at - now - (self.reserve_s if keep_reserve else 0.0)
        return now + max(0.0, left) / max(1, models_left)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, model: str, response: LlmResponse) -> None:
        """What the provider billed for ``response``, counted whether or not the response is
        then accepted (a malformed one is paid for too): the run's tokens and cost, and its
        budget's."""
        meta = response.usage_metadata
        if meta is None or response.partial:
            return
        prompt, completion = meta.prompt_token_count or 0, meta.candidates_token_count or 0
        cost = _cost_usd(model, prompt, completion)
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cost_usd += cost
        self.budget.tokens += prompt + completion
        self.budget.cost_usd += cost

    def saved(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """What a call answered from the cache would have cost, counted as saved (returned:
        the dollars)."""
        saved = _cost_usd(model, prompt_tokens, completion_tokens)
        self.saved_tokens += prompt_tokens + completion_tokens
        self.saved_cost_usd += saved
        return saved


_UNPRICED: set[str] = set()  # models LiteLLM has no price for: asked once, not per call


def _cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """LiteLLM's price for the call; 0 for models it has no price for (offline, local)."""
    if model in _UNPRICED:
        return 0.0
    import litellm

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001 - unknown models have no price, which is not an error
        _UNPRICED.add(model)
        return 0.0
    return float(prompt_cost + completion_cost)


def has_price(model: str) -> bool:
    """Whether LiteLLM has a price for ``model`` (what the cost limits can see)."""
    _cost_usd(model, 1, 1)
    return model not in _UNPRICED


_usage: contextvars.ContextVar[RunUsage | None] = contextvars.ContextVar("usage", default=None)


@contextmanager
def bind_usage(usage: RunUsage) -> Iterator[RunUsage]:
    """Make ``usage`` the current run's accounting for model calls made inside the block."""
    token = _usage.set(usage)
    try:
        yield usage
    finally:
        _usage.reset(token)


def current_usage() -> RunUsage:
    """The bound run's accounting; a throwaway one outside a run (``adk web`` chats)."""
    return _usage.get() or RunUsage()
