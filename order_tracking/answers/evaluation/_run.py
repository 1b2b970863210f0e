"""Running eval cases: each case on its own Runner and session, turn after turn, through the
same agents, models, limits and answer check as ``track-order``; cases concurrently, at most
``concurrency`` at once across every model; one trace per case."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from ...async_runner import TurnLog
from ...models.resilience import RunBudget, RunUsage, bind_usage, describe_error
from ...tracing.setup import trace_event
from ..policy import AnswerCheck, CheckPolicy, ToolResult
from ._cases import COORDINATOR, Case, ToolCall, Turn
from ._score import response_match, trajectory_score

if TYPE_CHECKING:
    from google.adk.agents import BaseAgent

    from ...async_runner.app import App

__all__ = ["TRACE_NAME", "CaseResult", "TurnResult", "evaluate"]

TRACE_NAME = "order_tracking_eval"  # the root span of each case's trace
_APP_NAME = "order_tracking"
_USER_ID = "eval"


@dataclass(frozen=True)
class TurnResult:
    """One turn's answer and scores (None: not scored, the case expects nothing of it)."""

    question: str
    answer: str
    tool_calls: tuple[ToolCall, ...]
    expected_tools: tuple[ToolCall, ...] | None
    reference: str | None
    trajectory: float | None
    response: float | None
    verified: bool | None
    unsupported: tuple[str, ...]
    tokens: int
    cost_usd: float
    latency_s: float
    error: str | None = None
    check_reason: str | None = None  # why the answer is not verified


@dataclass(frozen=True)
class CaseResult:
    model: str
    case: Case
    turns: tuple[TurnResult, ...]
    trace_file: Path | None = None


def _scored(turn: Turn, answer: str, calls: tuple[ToolCall, ...], failed: bool) -> tuple:
    trajectory = response = None
    if turn.expected_tools is not None:
        trajectory = 0.0 if failed else trajectory_score(calls, turn.expected_tools)
    if turn.reference is not None:
        response = 0.0 if failed else response_match(answer, turn.reference)
    return trajectory, response


async def _run_case(model: str, case: Case, agent: BaseAgent, app: App) -> CaseResult:
    """The case's turns in one session; a turn that fails scores 0 and the case goes on."""
    from google.adk.agents.run_config import RunConfig
    from google.adk.runners import Runner
    from google.adk.sessions import InMemorySessionService
    from google.genai import types

    check = app.answer_check or AnswerCheck()
    if check.policy == CheckPolicy.OFF:  # the eval scores the check whatever the policy
        check = AnswerCheck(CheckPolicy.FLAG, check.order_id_pattern, check.rebuild)
    limits = app.limits
    run_config = RunConfig(max_llm_calls=limits.max_model_calls)
    service = InMemorySessionService()
    runner = Runner(agent=agent, app_name=_APP_NAME, session_service=service)
    session_id = f"eval-{uuid4()}"
    earlier: list[ToolResult] = []  # the conversation's: a follow-up may restate them
    earlier_args: list[dict[str, Any]] = []
    subject: tuple[str | None, tuple[str, ...]] = (None, ())
    turns: list[TurnResult] = []
    try:
        await service.create_session(app_name=_APP_NAME, user_id=_USER_ID, session_id=session_id)
        for turn in case.turns:
            subject = check.asked(turn.question) or subject
            usage = RunUsage(budget=RunBudget(limits.max_tokens, limits.max_cost_usd))
            usage.start_deadline(limits.deadline_s)
            log = TurnLog()
            error = None
            start = time.perf_counter()
            try:
                with bind_usage(usage):
                    async with asyncio.timeout(limits.deadline_s):
                        message = types.Content(role="user", parts=[types.Part(text=turn.question)])
                        async for event in runner.run_async(
                            user_id=_USER_ID,
                            session_id=session_id,
                            new_message=message,
                            run_config=run_config,
                        ):
                            log.add(event)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                error = f"no answer within {limits.deadline_s:g}s"
            except Exception as exc:  # noqa: BLE001 - a failed turn is a score of 0, not a crash
                error = describe_error(exc)
            latency = time.perf_counter() - start
            if error is None and usage.degraded_because:
                error = f"every model failed ({usage.degraded_because})"
            answer, calls = log.text, tuple(log.calls)
            turn_start = len(earlier)
            earlier.extend(log.results)
            earlier_args.extend(log.arguments)
            if error is None and not answer:
                error = "the agent gave no answer"
            # Held to the agent that answered (the coordinator hands questions on), off the
            # event loop, within what is left of the turn's deadline.
            left = None if usage.deadline_at is None else usage.deadline_at - time.monotonic()
            review = await check.review_within(
                left,
                log.author or case.agent,
                answer,
                earlier,
                order_id=subject[0],
                skus=subject[1],
                arguments=earlier_args,
                this_turn=turn_start,
                record=trace_event,
            )
            trajectory, response = _scored(turn, answer, calls, error is not None)
            turns.append(
                TurnResult(
                    question=turn.question,
                    answer=answer,
                    tool_calls=calls,
                    expected_tools=turn.expected_tools,
                    reference=turn.reference,
                    trajectory=trajectory,
                    response=response,
                    verified=None if error else review.verified,
                    unsupported=review.unsupported,
                    tokens=usage.tokens,
                    cost_usd=usage.cost_usd,
                    latency_s=latency,
                    error=error,
                    check_reason=review.reason if review.verified is False else None,
                )
            )
    finally:
        await runner.close()
    return CaseResult(model, case, tuple(turns))


async def evaluate(
    cases: Sequence[Case],
    apps: Mapping[str, App],
    *,
    concurrency: int,
) -> list[CaseResult]:
    """Every case against every model (``apps``: an ``App`` per model name), at most
    ``concurrency`` cases in flight; results by model, then in the cases' order."""
    gate = asyncio.Semaphore(concurrency)
    coordinators = {model: app.coordinator() for model, app in apps.items()}

    async def one(model: str, case: Case) -> CaseResult:
        app = apps[model]
        if case.agent == COORDINATOR:
            agent: Any = coordinators[model]
        else:
            agent = next(a for a in app.agents if a.name == case.agent)
        async with gate:
            tracing = app.tracing
            attributes = {"model": model, "eval_set": case.set_id, "eval_id": case.case_id}
            scope = tracing.trace(TRACE_NAME, attributes) if tracing else nullcontext()
            with scope as trace_id:
                result = await _run_case(model, case, agent, app)
            if tracing and trace_id:
                await tracing.written(trace_id)
                return CaseResult(model, case, result.turns, tracing.file_for(trace_id))
            return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(model, case)) for model in apps for case in cases]
    return [task.result() for task in tasks]
