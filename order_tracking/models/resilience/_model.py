"""``ResilientModel``: an ADK model (``BaseLlm``) that retries, falls back, degrades and keeps
the books, around the LiteLLM models it wraps.

For each model call it tries the chain in order (the agent's model, then its fallbacks); each
model is retried on transient errors with exponential backoff and jitter (stamina), honouring
``Retry-After``, within its share of the agent's deadline. Every attempt passes through the
*guards* (``AttemptGuard``: the circuit breakers today), which may refuse it (the chain moves
on) and see how it ended. Whatever a response is, what the provider billed for it is counted
first; then a response no model means (empty, arguments that are not JSON, cut off at the
token limit) is refused like a provider fault.

When every model has failed, the degraded model (the built-in offline model) answers the
question asked from the tools alone, and the rest of the turn (``_turn``): the agent is
*degraded*, not failed.

A new failure policy is a guard in a module of its own, added to the list the composition root
(``composition.py``) hands in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import Any, Protocol

import stamina
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from pydantic import ConfigDict

from ...tracing.setup import trace_event
from ._breaker import Refused
from ._budget import BudgetExceededError, RunUsage, current_usage
from ._call import bounded, prepared
from ._classify import check_response, describe_error, is_transient, retry_after_s
from ._turn import degraded_turn, mark_degraded, question_only

log = logging.getLogger("order_tracking.resilience")

# An attempt with less time than this left in its share is not started.
_MIN_ATTEMPT_S = 0.5


class AttemptGuard(Protocol):
    """A failure policy around each attempt on one model. ``attempt(model)`` is entered before
    the provider is called: raising a ``Refused`` there skips the model; the block's exception
    (or none) tells the guard how the attempt went."""

    def attempt(self, model: str) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    model_timeout_s: float | None = None  # per attempt; None leaves it to the model
    wait_initial_s: float = 0.25
    wait_max_s: float = 4.0
    wait_jitter_s: float = 0.5


class ModelChainError(Exception):
    """Every model in the chain failed and there was nothing to degrade to."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures) or "no model available")


class OutOfTimeError(Refused):
    """This model's share of the deadline is spent: the rest is kept for the others."""


class _Final(Exception):
    """One model is done for this call; ``yielded`` if part of an answer was streamed."""

    def __init__(self, error: BaseException, *, yielded: bool) -> None:
        super().__init__(str(error))
        self.error, self.yielded = error, yielded


class ResilientModel(BaseLlm):
    """An ADK model that retries, falls back, degrades and keeps the books."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chain: list[BaseLlm]
    degrade_to: BaseLlm | None = None
    guards: tuple[Any, ...] = ()  # AttemptGuard instances, outermost first
    policy: RetryPolicy = RetryPolicy()

    @classmethod
    def of(
        cls,
        chain: Sequence[BaseLlm],
        *,
        degrade_to: BaseLlm | None,
        guards: Sequence[AttemptGuard],
        policy: RetryPolicy,
    ) -> ResilientModel:
        return cls(
            model=chain[0].model,
            chain=list(chain),
            degrade_to=degrade_to,
            guards=tuple(guards),
            policy=policy,
        )

    @property
    def capabilities(self) -> Any:
        return self.chain[0].capabilities

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        usage = current_usage()
        usage.budget.check()
        if self.degrade_to is not None and (usage.degraded_only or degraded_turn(llm_request)):
            # The turn is the degraded model's already (or the run asks for an answer from
            # the tools alone): the models that failed it are not asked again.
            degraded = self._degraded(llm_request, stream, usage)
            async with aclosing(degraded):
                async for response in degraded:
                    yield response
            return
        failures: list[str] = []
        for index, model in enumerate(self.chain):
            # Each model gets an equal share of the time left, so a hung primary cannot
            # use up the deadline its fallbacks and the degraded answer need.
            share_end = usage.share_end(
                models_left=len(self.chain) - index, keep_reserve=self.degrade_to is not None
            )
            try:
                calls = self._call_with_retries(model, llm_request, stream, usage, share_end)
                async with aclosing(calls):
                    async for response in calls:
                        yield response
                return
            except _Final as final:
                reason = describe_error(final.error)
                failures.append(reason)
                skipped = isinstance(final.error, Refused)
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
        degraded = self._degraded(llm_request, stream, usage)
        async with aclosing(degraded):
            async for response in degraded:
                yield response

    async def _degraded(
        self, llm_request: LlmRequest, stream: bool, usage: RunUsage
    ) -> AsyncGenerator[LlmResponse, None]:
        """The degraded model's answer to the question asked, from its own tool calls only;
        its calls are marked (``DEGRADED_CALL_ID``) so the rest of the turn stays its own."""
        assert self.degrade_to is not None
        usage.model_calls += 1
        request = prepared(question_only(llm_request), self.degrade_to, None)
        responses = self.degrade_to.generate_content_async(request, stream)
        async with aclosing(responses):
            async for response in responses:
                usage.add(self.degrade_to.model, response)
                yield mark_degraded(response)

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
        attempt_no = 0
        yielded = False
        last_error: Exception | None = None  # the provider's, if a later attempt is refused

        def retry_on(exc: Exception) -> bool | float:
            if not is_transient(exc):
                return False
            wait = retry_after_s(exc)
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
                    try:
                        async with AsyncExitStack() as guarded:
                            for guard in self.guards:
                                await guarded.enter_async_context(guard.attempt(model.model))
                            usage.budget.check()
                            usage.retries += attempt_no > 1
                            usage.model_calls += 1
                            request = prepared(llm_request, model, timeout_s)
                            responses = bounded(model, request, stream, timeout_s)
                            async with aclosing(responses):
                                async for response in responses:
                                    # Billed whether or not it is any use: counted first.
                                    usage.add(model.model, response)
                                    check_response(response)
                                    yielded = True
                                    yield response
                    except Refused:
                        raise
                    except Exception as exc:
                        last_error = exc
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
        except (_Final, BudgetExceededError):
            raise
        except Refused as exc:
            # Refused before calling: the reason worth reporting is what the provider did.
            raise _Final(last_error or exc, yielded=yielded) from exc
        except Exception as exc:  # retries exhausted, or not worth retrying
            raise _Final(exc, yielded=yielded) from exc


def can_degrade(model: object) -> bool:
    """Whether ``model`` can answer from the tools alone (a ``ResilientModel`` with a model to
    degrade to): what ``RunUsage.degraded_only`` asks of it."""
    return isinstance(model, ResilientModel) and model.degrade_to is not None
