"""What stands between an agent and its model: retries, circuit breakers, fallbacks,
degradation and budgets.

``ResilientModel`` is an ADK model (``BaseLlm``) wrapping LiteLLM models. For each model call it
tries the primary model, then each fallback, and finally, when every model has failed, the
built-in offline model, which answers from the tool results alone: the agent is *degraded*,
not failed. Each model is retried on transient errors (429, 5xx, timeouts, dropped
connections) with exponential backoff and jitter (stamina), honouring ``Retry-After``; auth and
bad-request errors are not retried. A circuit breaker per model, shared by every agent in the
process, stops calling a model that keeps failing.

Per-run figures (model calls, tokens, cost, retries, degradation) are collected in a
``RunUsage`` that the runner binds with :func:`bind_usage`; a ``RunBudget`` shared by the agents
of one order refuses calls once its token or cost cap is reached.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import stamina
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import ConfigDict, Field

from .redaction import redact

log = logging.getLogger("order_tracking.resilience")

# HTTP statuses worth another try; everything else (400, 401, 403, 404, 422...) is final.
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# A provider asking for a longer pause than this is treated as down for this call.
_MAX_RETRY_AFTER_S = 30.0
# An attempt with less time than this left in its share is not started.
_MIN_ATTEMPT_S = 0.5
_PERMANENT_CAUSES = frozenset(
    {
        "UnsupportedProtocol",
        "InvalidURL",
        "NonHttpUrlClientError",
        "InvalidUrlClientError",
        "SSLCertVerificationError",
        "ClientConnectorCertificateError",
    }
)
_TRANSIENT_NAMES = frozenset(
    {"APIConnectionError", "Timeout", "ServiceUnavailableError", "InternalServerError"}
)


class CircuitOpenError(Exception):
    """The model's circuit is open: the call was refused without contacting the provider."""


class BudgetExceededError(Exception):
    """A per-run token or cost cap was reached: the call was refused."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt could succeed (rate limits, server errors, network trouble)."""
    # LiteLLM reports every connection problem as a 500, a bad URL included: look underneath.
    if any(type(c).__name__ in _PERMANENT_CAUSES for c in _causes(exc)):
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _TRANSIENT_STATUS
    if isinstance(exc, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
        return True
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__)


def retry_after_s(exc: BaseException) -> float | None:
    """The provider's ``Retry-After`` in seconds, when it sent one (seconds form only)."""
    # LiteLLM keeps the provider's headers in litellm_response_headers; its .response is a
    # synthetic one without them.
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        try:
            value = headers.get("retry-after") if headers else None
            if value is not None:
                return min(max(0.0, float(value)), _MAX_RETRY_AFTER_S)
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message``, without LiteLLM's repeated type prefixes and with
    anything key-like redacted (providers sometimes echo the key they were given)."""
    name = type(exc).__name__
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    # LiteLLM says "litellm.InternalServerError: InternalServerError: OpenAIException - ...".
    message = re.sub(rf"^(?:(?:litellm\.)?{re.escape(name)}:\s*)+", "", message)
    return redact(f"{name}: {message}" if message else name)


# --- Circuit breaker -----------------------------------------------------------------------

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class Ticket:
    """A call's admission: which period of the breaker it started in, and whether it is the
    half-open trial. Only a ticket from the current period can move the breaker."""

    period: int
    trial: bool = False


@dataclass
class CircuitBreaker:
    """Consecutive-failure breaker for one model.

    Closed: calls pass; ``threshold`` failures in a row open it. Open: calls fail fast for
    ``cooldown_s``. Half-open: exactly one trial call is let through (concurrent callers are
    refused meanwhile); its success closes the circuit, its failure reopens it. Verdicts of
    calls admitted before the last change of state are ignored: they say nothing new.
    """

    name: str
    threshold: int = 5
    cooldown_s: float = 30.0
    on_change: Callable[[str, str, str], None] | None = None
    clock: Callable[[], float] = time.monotonic
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    period: int = 0  # bumped on every change of state
    _trial_in_flight: bool = False

    def before_call(self) -> Ticket:
        if self.state == OPEN:
            if self.clock() - self.opened_at < self.cooldown_s:
                raise CircuitOpenError(f"circuit for {self.name} is open")
            self._set(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self._trial_in_flight:
                raise CircuitOpenError(f"circuit for {self.name} is half-open, trial in flight")
            self._trial_in_flight = True
            return Ticket(self.period, trial=True)
        return Ticket(self.period)

    def record_success(self, ticket: Ticket) -> None:
        if ticket.period != self.period:
            return
        if ticket.trial:
            self._trial_in_flight = False
            self._set(CLOSED)
        self.failures = 0

    def record_failure(self, ticket: Ticket) -> None:
        if ticket.period != self.period:
            return  # e.g. a call admitted while closed, failing after the circuit opened
        if ticket.trial:
            self._trial_in_flight = False
        self.failures += 1
        if ticket.trial or self.failures >= self.threshold:
            self.opened_at = self.clock()
            self._set(OPEN)

    def release(self, ticket: Ticket) -> None:
        """The call ended without a verdict (cancelled, or a bad request): if it was the trial,
        let another trial through."""
        if ticket.trial and ticket.period == self.period:
            self._trial_in_flight = False

    def _set(self, state: str) -> None:
        old, self.state = self.state, state
        self.period += 1
        if state == CLOSED:
            self.failures = 0
        if self.on_change:
            self.on_change(self.name, old, state)


@dataclass
class Breakers:
    """One breaker per model name, shared by every agent and order in the process."""

    threshold: int = 5
    cooldown_s: float = 30.0
    on_change: Callable[[str, str, str], None] | None = None
    _by_model: dict[str, CircuitBreaker] = field(default_factory=dict)

    def for_model(self, model: str) -> CircuitBreaker:
        if model not in self._by_model:
            self._by_model[model] = CircuitBreaker(
                model, self.threshold, self.cooldown_s, self.on_change
            )
        return self._by_model[model]


# --- Per-run accounting --------------------------------------------------------------------


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


@dataclass
class RunUsage:
    """What one agent's run used; filled in by ``ResilientModel``."""

    budget: RunBudget = field(default_factory=RunBudget)
    model_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    degraded_because: str | None = None
    models: list[str] = field(default_factory=list)
    # When the agent's deadline falls (time.monotonic), and the time kept back from the
    # model chain so a degraded answer can still be given.
    deadline_at: float | None = None
    reserve_s: float = 0.0

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


_usage: contextvars.ContextVar[RunUsage | None] = contextvars.ContextVar("usage", default=None)


@contextmanager
def bind_usage(usage: RunUsage) -> Iterator[RunUsage]:
    """Make ``usage`` the current run's accounting for model calls made inside the block."""
    token = _usage.set(usage)
    try:
        yield usage
    finally:
        _usage.reset(token)


# --- Tracing hooks (no-ops unless Monocle is installed) --------------------------------------


def trace_event(name: str, attributes: dict[str, Any]) -> None:
    try:
        from monocle_apptrace.instrumentation.common.utils import get_current_monocle_span
    except ImportError:  # pragma: no cover - monocle is a dependency
        return
    span = get_current_monocle_span()
    if span is not None and span.is_recording():
        span.add_event(name, {k: v for k, v in attributes.items() if v is not None})


def trace_circuit_change(model: str, old: str, new: str) -> None:
    """Default breaker listener: a warning in the log and an event in the current trace."""
    log.warning("circuit for %s: %s -> %s", model, old, new)
    trace_event("circuit.state_change", {"model": model, "from": old, "to": new})


# --- The model wrapper ---------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    model_timeout_s: float | None = None  # per attempt; None leaves it to the model
    wait_initial_s: float = 0.25
    wait_max_s: float = 4.0
    wait_jitter_s: float = 0.5


class ResilientModel(BaseLlm):
    """An ADK model that retries, falls back, degrades and keeps the books."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chain: list[BaseLlm]
    degrade_to: BaseLlm | None = None
    breakers: Breakers = Field(default_factory=Breakers)
    policy: RetryPolicy = Field(default_factory=RetryPolicy)

    @classmethod
    def of(
        cls,
        chain: Sequence[BaseLlm],
        *,
        degrade_to: BaseLlm | None,
        breakers: Breakers,
        policy: RetryPolicy,
    ) -> ResilientModel:
        return cls(
            model=chain[0].model,
            chain=list(chain),
            degrade_to=degrade_to,
            breakers=breakers,
            policy=policy,
        )

    @property
    def capabilities(self) -> Any:
        return self.chain[0].capabilities

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        usage = _usage.get() or RunUsage()
        usage.budget.check()
        failures: list[str] = []
        for index, model in enumerate(self.chain):
            # Each model gets an equal share of the time left, so a hung primary cannot
            # use up the deadline its fallbacks and the degraded answer need.
            share_end = usage.share_end(
                models_left=len(self.chain) - index, keep_reserve=self.degrade_to is not None
            )
            try:
                async for response in self._call_with_retries(
                    model, llm_request, stream, usage, share_end
                ):
                    yield response
                return
            except _Final as final:
                reason = describe_error(final.error)
                failures.append(reason)
                skipped = isinstance(final.error, (CircuitOpenError, OutOfTimeError))
                trace_event(
                    "model.skipped" if skipped else "model.failed",
                    {"model": model.model, "error": reason},
                )
                if final.yielded:  # half an answer was already streamed: no clean fallback
                    raise final.error from None
        if self.degrade_to is None:
            raise ModelChainError(failures)
        # Across the run's calls: the first call's reason is usually the telling one.
        usage.degraded_because = "; ".join(
            dict.fromkeys([*filter(None, [usage.degraded_because]), *failures])
        )
        trace_event("model.degraded", {"reason": usage.degraded_because})
        usage.model_calls += 1
        usage.models.append(self.degrade_to.model)
        request = _prepared(llm_request, self.degrade_to, None)
        async for response in self.degrade_to.generate_content_async(request, stream):
            usage.add(self.degrade_to.model, response)
            yield response

    async def _call_with_retries(
        self,
        model: BaseLlm,
        llm_request: LlmRequest,
        stream: bool,
        usage: RunUsage,
        share_end: float | None,
    ) -> AsyncGenerator[LlmResponse, None]:
        """One model with retries. Raises ``_Final`` when this model is done for this call."""
        policy = self.policy
        breaker = self.breakers.for_model(model.model)
        attempt_no = 0
        yielded = False
        last_error: Exception | None = None  # the provider's, if a later attempt is refused

        def retry_on(exc: Exception) -> bool | float:
            if not is_transient(exc):
                return False
            wait = retry_after_s(exc)
            if wait is not None and wait > _MAX_RETRY_AFTER_S:
                return False  # the provider asks for longer than we would wait: down for now
            if (
                share_end is not None
                and time.monotonic() + (wait or 0) + _MIN_ATTEMPT_S > share_end
            ):
                return False  # no time left in this model's share for another attempt
            return wait if wait is not None else True

        try:
            async for attempt in stamina.retry_context(
                on=retry_on,
                attempts=policy.retries + 1,
                timeout=None,  # the share of the deadline bounds it, see retry_on
                wait_initial=policy.wait_initial_s,
                wait_max=policy.wait_max_s,
                wait_jitter=policy.wait_jitter_s,
            ):
                with attempt:
                    attempt_no += 1
                    timeout_s = policy.model_timeout_s
                    if share_end is not None:
                        left = share_end - time.monotonic()
                        if left < _MIN_ATTEMPT_S:
                            raise OutOfTimeError(f"no time left to try {model.model}")
                        timeout_s = min(timeout_s, left) if timeout_s else left
                    # Checked on every attempt: once the circuit opens, retries stop too.
                    ticket = breaker.before_call()
                    verdict = False
                    try:
                        usage.budget.check()
                        usage.retries += attempt_no > 1
                        usage.model_calls += 1
                        usage.models.append(model.model)
                        request = _prepared(llm_request, model, timeout_s)
                        async for response in model.generate_content_async(request, stream):
                            usage.add(model.model, response)
                            yielded = True
                            yield response
                        breaker.record_success(ticket)
                        verdict = True
                    except Exception as exc:
                        last_error = exc
                        if is_transient(exc):  # a bad request says nothing about the provider
                            breaker.record_failure(ticket)
                            verdict = True
                        if yielded:
                            raise _Final(exc, yielded=True) from exc
                        if attempt_no <= policy.retries and retry_on(exc):
                            trace_event(
                                "model.retry",
                                {
                                    "model": model.model,
                                    "attempt": attempt_no,
                                    "error": describe_error(exc),
                                },
                            )
                            log.info("retrying %s after %s", model.model, describe_error(exc))
                        raise
                    finally:
                        # Cancelled, closed by ADK while paused at a yield, refused by the
                        # budget: no verdict, but a trial call must not stay "in flight".
                        if not verdict:
                            breaker.release(ticket)
        except (_Final, BudgetExceededError):
            raise
        except (CircuitOpenError, OutOfTimeError) as exc:
            # Refused before calling: the reason worth reporting is what the provider did.
            raise _Final(last_error or exc, yielded=yielded) from exc
        except Exception as exc:  # retries exhausted, or not worth retrying
            raise _Final(exc, yielded=yielded) from exc


def _prepared(llm_request: LlmRequest, model: BaseLlm, timeout_s: float | None) -> LlmRequest:
    """The request for one attempt: addressed to ``model``, with this attempt's timeout.

    ADK sets llm_request.model to the agent's model name and LiteLlm prefers it to its own:
    without this every fallback (and the degraded call) would go to the primary. ADK passes
    ``http_options.timeout`` (milliseconds) on to LiteLLM as the call's timeout.
    """
    update: dict[str, Any] = {}
    if llm_request.model != model.model:
        update["model"] = model.model
    if timeout_s is not None:
        options = llm_request.config.http_options or types.HttpOptions()
        update["config"] = llm_request.config.model_copy(
            update={"http_options": options.model_copy(update={"timeout": int(timeout_s * 1000)})}
        )
    return llm_request.model_copy(update=update) if update else llm_request


class ModelChainError(Exception):
    """Every model in the chain failed and there was nothing to degrade to."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures) or "no model available")


class OutOfTimeError(Exception):
    """This model's share of the deadline is spent: the rest is kept for the others."""


class _Final(Exception):
    """One model is done for this call; ``yielded`` if part of an answer was streamed."""

    def __init__(self, error: BaseException, *, yielded: bool) -> None:
        super().__init__(str(error))
        self.error, self.yielded = error, yielded
