"""What stands between an agent and its model: retries, circuit breakers, fallbacks,
degradation and budgets.

One private module per concern:

- ``_classify``: which errors are worth another attempt, ``Retry-After``, one-line errors;
- ``_breaker``: a circuit breaker per model (an attempt guard);
- ``_budget``: each run's token/cost budget, model calls and deadline shares;
- ``_hint``: one line for the operator when calls to a model keep timing out;
- ``_call``: one attempt's call, addressed to its model and bounded by its timeout;
- ``_turn``: which part of a conversation is this turn's, and which is the degraded model's;
- ``_model``: ``ResilientModel``, the ADK model that composes them (retries, fallbacks, the
  guards, degradation).

A new failure policy is a new module with an ``attempt(model)`` guard (see ``AttemptGuard``),
composed into the list ``composition.py`` gives ``ResilientModel``.
"""

from ._breaker import Breakers, CircuitBreaker, CircuitOpenError, CircuitState, Refused, Ticket
from ._budget import (
    BudgetExceededError,
    RunBudget,
    RunUsage,
    bind_usage,
    current_usage,
    degraded_reserve_s,
    has_price,
)
from ._classify import describe_error, is_transient, retry_after_s
from ._hint import TimeoutHint
from ._model import (
    AttemptGuard,
    ModelChainError,
    OutOfTimeError,
    ResilientModel,
    RetryPolicy,
    can_degrade,
)
from ._turn import DEGRADED_CALL_ID

__all__ = [
    "DEGRADED_CALL_ID",
    "AttemptGuard",
    "Breakers",
    "BudgetExceededError",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "ModelChainError",
    "OutOfTimeError",
    "Refused",
    "ResilientModel",
    "RetryPolicy",
    "RunBudget",
    "RunUsage",
    "Ticket",
    "TimeoutHint",
    "bind_usage",
    "can_degrade",
    "current_usage",
    "degraded_reserve_s",
    "describe_error",
    "has_price",
    "is_transient",
    "retry_after_s",
]
