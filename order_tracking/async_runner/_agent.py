"""One agent's run: its own Runner and session, within its deadline and budget, its answer
checked against the results of the tools it called."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from google.adk.agents import BaseAgent
from google.adk.agents.invocation_context import LlmCallsLimitExceededError
from google.adk.agents.run_config import RunConfig
from google.adk.events import Event
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.adk.telemetry import ContentCapturingMode, TelemetryConfig
from google.genai import types

from ..answers.policy import AnswerCheck, ToolResult
from ..core.results import AgentResult, RunLimits, Status, ToolCall, tool_call
from ..models.resilience import (
    BudgetExceededError,
    RunBudget,
    RunUsage,
    bind_usage,
    can_degrade,
    describe_error,
)
from ..tracing.setup import trace_event

__all__ = [
    "APP_NAME",
    "USER_ID",
    "TurnLog",
    "agent_result",
    "prompt_for",
    "run_agent_task",
]

APP_NAME = "order_tracking"
USER_ID = "track-order"


# ADK's own OpenTelemetry, decided once for every run: ADK's spans never reach a trace here
# (Monocle's do), so its cheapest form (the stable conventions, no content). Left to itself,
# ADK builds a config per model call from the environment and converts every request and
# answer to the experimental GenAI attributes (see BENCHMARKS.md, #26).
ADK_TELEMETRY = TelemetryConfig(
    genai_semconv_stability_opt_in="stable",
    capture_message_content=ContentCapturingMode.NO_CONTENT,
    adk_experimental_telemetry_opt_in=False,
)


def prompt_for(order_id: str) -> str:
    return f"What is the status of order {order_id}?"


@dataclass
class TurnLog:
    """What one turn's events show: the tool calls, what the tools returned (``arguments``:
    the arguments of the call each result answers, in the same order), the answer and the
    agent that gave it."""

    calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    arguments: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    author: str | None = None
    _asked: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def add(self, event: Event) -> None:
        for call in event.get_function_calls():
            self.calls.append(tool_call(call.name, call.args))
            if call.id:
                self._asked[call.id] = dict(call.args or {})
        for response in event.get_function_responses():
            self.results.append((response.name or "", response.response))
            self.arguments.append(self._asked.get(response.id or "", {}))
        if event.is_final_response() and event.content and event.content.parts:
            parts = event.content.parts
            self.text = "".join(p.text for p in parts if p.text and not p.thought).strip()
            self.author = event.author


async def run_agent_task(
    agent: BaseAgent,
    prompt: str,
    session_id: str,
    *,
    limits: RunLimits,
    usage: RunUsage | None = None,
    check: AnswerCheck | None = None,
    order_id: str | None = None,
) -> AgentResult:
    """Run one agent on its own Runner and session, within its deadline and budget.

    Errors, timeouts and refused budgets come back as a result; cancellation is re-raised.
    ``usage`` (whose budget may be shared with other agents) collects what the run spends.
    ``check`` reviews the answer against this run's tool results, for the order ``order_id``
    (an answer that states what no tool returned is ``UNVERIFIED``, or replaced).
    """
    start = time.perf_counter()
    usage = usage or RunUsage(budget=RunBudget(limits.max_tokens, limits.max_cost_usd))
    usage.start_deadline(limits.deadline_s)
    runner = Runner(agent=agent, app_name=APP_NAME, session_service=InMemorySessionService())
    log = TurnLog()
    status, error = Status.OK, None
    deadline = asyncio.timeout(limits.deadline_s)
    try:
        with bind_usage(usage):
            async with deadline:
                await _turn(runner, session_id, prompt, limits, log)
    except TimeoutError as exc:
        if deadline.expired():
            status, error = Status.TIMEOUT, f"no answer within {limits.deadline_s:g}s"
        else:
            status, error = Status.ERROR, describe_error(exc)
    except (BudgetExceededError, LlmCallsLimitExceededError) as exc:
        status, error = Status.BUDGET, str(exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - one agent's failure is data for the caller
        status, error = Status.ERROR, describe_error(exc)
    finally:
        await runner.close()
    text = log.text
    if status == Status.OK and not text:
        status, error = Status.ERROR, "the agent gave no answer"
    elif status == Status.OK and usage.unavailable:
        status = Status.UNAVAILABLE
        error = f"no answer from the {' and '.join(sorted(usage.unavailable))} system"
    elif status == Status.OK and usage.degraded_because:
        status = Status.DEGRADED
        error = f"every model failed ({usage.degraded_because}); answered from tool results alone"
    verified, unsupported = None, ()
    if check is not None and status.keeps_answer:
        # Off the event loop, within what is left of the deadline.
        left = None if usage.deadline_at is None else usage.deadline_at - time.monotonic()
        review = await check.review_within(
            left,
            agent.name,
            text,
            log.results,
            order_id=order_id,
            arguments=log.arguments,
            record=trace_event,
        )
        verified, unsupported, text = review.verified, review.unsupported, review.text
        if review.replaced:
            # The answer from the tools alone, as when every model fails: the order asked
            # about looked up anew (the model's lookups may have been of another order, or
            # none), else built from the results the model fetched.
            status = Status.DEGRADED
            error = f"the model's answer {review.reason}; answered from tool results alone"
            rebuilt = await _answer_from_tools(agent, prompt, session_id, limits, usage)
            if rebuilt is not None:
                text = rebuilt.text
                log.calls += rebuilt.calls
        elif review.verified is False and status == Status.OK:
            status, error = Status.UNVERIFIED, review.reason
    return agent_result(
        agent.name,
        status,
        text if status.keeps_answer else "",
        error,
        time.perf_counter() - start,
        usage,
        tool_calls=tuple(name for name, _ in log.calls),
        tool_args=tuple(args for _, args in log.calls),
        session_id=session_id,
        verified=verified,
        unsupported_claims=unsupported,
    )


async def _turn(
    runner: Runner, session_id: str, prompt: str, limits: RunLimits, log: TurnLog
) -> None:
    """One question to the runner's agent in a new session, its events into ``log``."""
    await runner.session_service.create_session(
        app_name=APP_NAME, user_id=USER_ID, session_id=session_id
    )
    message = types.Content(role="user", parts=[types.Part(text=prompt)])
    async for event in runner.run_async(
        user_id=USER_ID,
        session_id=session_id,
        new_message=message,
        run_config=RunConfig(max_llm_calls=limits.max_model_calls, telemetry=ADK_TELEMETRY),
    ):
        log.add(event)


async def _answer_from_tools(
    agent: BaseAgent, prompt: str, session_id: str, limits: RunLimits, usage: RunUsage
) -> TurnLog | None:
    """The agent's answer to ``prompt`` from its tools alone: the question asked again in a
    session of its own, every model call going to the degraded model, within what is left
    of the agent's deadline and budget. None when there is no such answer (no model to
    degrade to, no time left, a failure): the caller keeps the one built from the model's
    results."""
    if not can_degrade(getattr(agent, "model", None)):
        return None
    left = None if usage.deadline_at is None else usage.deadline_at - time.monotonic()
    if left is not None and left <= 0:
        return None
    log = TurnLog()
    runner = Runner(agent=agent, app_name=APP_NAME, session_service=InMemorySessionService())
    usage.degraded_only = True
    try:
        with bind_usage(usage):
            async with asyncio.timeout(left):
                await _turn(runner, f"{session_id}-from-tools", prompt, limits, log)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the answer built from the model's results stands
        return None
    finally:
        usage.degraded_only = False
        await runner.close()
    return log if log.text else None


def agent_result(
    agent: str,
    status: Status,
    text: str,
    error: str | None,
    elapsed_s: float,
    usage: RunUsage,
    **extra: Any,
) -> AgentResult:
    """An AgentResult with what the run spent, also recorded in the trace."""
    result = AgentResult(
        agent=agent,
        text=text,
        error=error,
        elapsed_s=elapsed_s,
        status=status,
        tokens=usage.tokens,
        cost_usd=usage.cost_usd,
        model_calls=usage.model_calls,
        retries=usage.retries,
        cached_calls=usage.cache_hits,
        **extra,
    )
    trace_event(
        "agent.result",
        {
            "agent": result.agent,
            "status": result.status.value,
            "error": result.error,
            "tokens": result.tokens,
            "cost_usd": result.cost_usd,
            "model_calls": result.model_calls,
            "retries": result.retries,
            "cached_calls": result.cached_calls or None,
            "elapsed_s": round(result.elapsed_s, 4),
            "verified": result.verified,
        },
    )
    return result
