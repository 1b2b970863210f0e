"""Fan one order question out to every specialist at once; wall time is the slowest agent's.

Each agent gets its own Runner, InMemorySessionService and session id, so concurrent runs
never share conversation state. A failing agent becomes a failed ``AgentResult``; it never
aborts the others. The caller owns the limits (deadline, budgets) and passes them in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import Any
from uuid import uuid4

from google.adk.agents import BaseAgent

from ..answers.policy import AnswerCheck
from ..core.results import (
    STOPPED,
    AgentResult,
    BatchSummary,
    OrderReport,
    ReportCallback,
    ResultCallback,
    RunLimits,
    Status,
)
from ..models.resilience import RunBudget, RunUsage, describe_error
from ..ops.logs import log_context
from ..ops.watch import Watch, refused_result
from ..tracing.setup import WORKFLOW_NAME, Tracing
from ._agent import APP_NAME, USER_ID, TurnLog, agent_result, prompt_for, run_agent_task

__all__ = [
    "APP_NAME",
    "DEFAULT_ORDERS_IN_FLIGHT",
    "USER_ID",
    "TurnLog",
    "prompt_for",
    "run_agent_task",
    "run_all_agents",
    "track_order",
    "track_orders",
]

log = logging.getLogger("order_tracking.runner")

DEFAULT_ORDERS_IN_FLIGHT = 64  # without a concurrency limit: how many orders a batch starts


async def run_all_agents(
    order_id: str,
    agents: Sequence[BaseAgent],
    *,
    limits: RunLimits,
    stop: asyncio.Event | None = None,
    gate: asyncio.Semaphore | None = None,
    on_result: ResultCallback | None = None,
    check: AnswerCheck | None = None,
) -> list[AgentResult]:
    """Ask every agent about ``order_id`` concurrently; results keep the agents' order.

    The agents share one token/cost budget. ``gate`` bounds how many agent runs are in flight
    (shared across orders in a batch); an agent's deadline starts when it gets through.
    ``on_result(order_id, result)`` is called as each result arrives, slowest last. Setting
    ``stop`` (a signal handler does) cancels the agents still running; their results say
    ``cancelled`` and the finished ones are kept. ``check`` reviews every answer against its
    run's tool results.
    """
    start = time.perf_counter()
    prompt = prompt_for(order_id)
    budget = RunBudget(limits.max_tokens, limits.max_cost_usd)
    usages = [RunUsage(budget=budget) for _ in agents]  # kept here: a cancelled run spent too

    async def run(agent: BaseAgent, usage: RunUsage) -> AgentResult:
        async with gate or nullcontext():
            with log_context(agent=agent.name):
                return await run_agent_task(
                    agent,
                    prompt,
                    f"{agent.name}-{uuid4()}",
                    limits=limits,
                    usage=usage,
                    check=check,
                    order_id=order_id,
                )

    tasks = [
        asyncio.create_task(run(agent, usage)) for agent, usage in zip(agents, usages, strict=True)
    ]
    stopper = asyncio.create_task(stop.wait()) if stop is not None else None
    reported: set[asyncio.Task[Any]] = set()
    try:
        pending: set[asyncio.Task[Any]] = set(tasks)
        while pending:
            watched = pending | {stopper} if stopper else pending
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if on_result:
                for task in tasks:  # in the agents' order when several finish together
                    if task in done and not task.cancelled() and task.exception() is None:
                        on_result(order_id, task.result())
                        reported.add(task)
            if stopper in done:
                break
            pending -= done
    finally:
        leftovers = [t for t in (*tasks, stopper) if t is not None and not t.done()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
    elapsed = time.perf_counter() - start
    results = []
    for agent, task, usage in zip(agents, tasks, usages, strict=True):
        if task.cancelled():
            result = agent_result(agent.name, Status.CANCELLED, "", STOPPED, elapsed, usage)
        elif task.exception() is not None:  # run_agent_task returns errors; this is a backstop
            result = agent_result(
                agent.name, Status.ERROR, "", describe_error(task.exception()), elapsed, usage
            )
        else:
            result = task.result()
        if on_result and task not in reported:
            on_result(order_id, result)
        results.append(result)
    return results


async def track_order(
    order_id: str,
    agents: Sequence[BaseAgent],
    tracing: Tracing | None = None,
    *,
    limits: RunLimits,
    stop: asyncio.Event | None = None,
    gate: asyncio.Semaphore | None = None,
    on_result: ResultCallback | None = None,
    check: AnswerCheck | None = None,
    watch: Watch | None = None,
) -> OrderReport:
    """One order, all agents, one trace (when tracing is on), timed end to end. ``watch``
    may refuse it (a spend limit: every agent ``BUDGET``, nothing run) and is told how it
    went."""
    watch = watch or Watch()
    with log_context(order_id=order_id):
        refusal = await watch.refusal()
        if refusal is not None:
            log.warning("order refused: %s", refusal.reason)
            refused = tuple(refused_result(agent.name, refusal) for agent in agents)
            for result in refused if on_result else ():
                on_result(order_id, result)
            return OrderReport(order_id, refused, 0.0)
        report = None
        watch.order_started()
        try:
            report = await _track_order(
                order_id, agents, tracing, limits, stop, gate, on_result, check, watch
            )
        finally:
            watch.order_finished(report)
    return report


async def _track_order(
    order_id: str,
    agents: Sequence[BaseAgent],
    tracing: Tracing | None,
    limits: RunLimits,
    stop: asyncio.Event | None,
    gate: asyncio.Semaphore | None,
    on_result: ResultCallback | None,
    check: AnswerCheck | None,
    watch: Watch,
) -> OrderReport:
    start = time.perf_counter()
    scope = tracing.trace(WORKFLOW_NAME, {"order_id": order_id}) if tracing else nullcontext()
    with scope as trace_id:
        results = await run_all_agents(
            order_id,
            agents,
            limits=limits,
            stop=stop,
            gate=gate,
            on_result=on_result,
            check=check,
        )
        # Logged inside the trace: each record carries the order's trace id.
        for result in results:
            watch.agent_finished(result)
        answered = sum(r.ok for r in results)
        log.info("order done: %d of %d agents answered", answered, len(results))
    wall_s = time.perf_counter() - start
    trace_file = trace_error = None
    if tracing and trace_id:
        # The trace's file is written by the writer thread, which tells the event loop: the
        # other orders of a batch keep running meanwhile.
        await tracing.written(trace_id)
        trace_file, trace_error = tracing.file_for(trace_id), tracing.error_for(trace_id)
    sampled = tracing is None or trace_id is not None  # else left out by TRACE_SAMPLE_RATIO
    return OrderReport(order_id, tuple(results), wall_s, trace_file, trace_error, sampled)


async def track_orders(
    order_ids: Iterable[str],
    agents: Sequence[BaseAgent],
    tracing: Tracing | None = None,
    *,
    concurrency: int | None = None,
    limits: RunLimits,
    stop: asyncio.Event | None = None,
    on_result: ResultCallback | None = None,
    on_report: ReportCallback | None = None,
    check: AnswerCheck | None = None,
    watch: Watch | None = None,
) -> BatchSummary:
    """Several orders, one trace each, streamed: ids are taken from ``order_ids`` only as
    orders finish, so at most ``concurrency`` orders are in flight (and at most
    ``concurrency`` agent runs across them), however long the batch. ``on_report`` sees each
    report as it completes; what is kept is the summary, so memory is flat in the number of
    orders. Setting ``stop`` cancels the orders in flight (their reports say so) and starts
    no more. The orders run in one task group: none outlives the batch."""
    gate = asyncio.Semaphore(concurrency) if concurrency else None
    in_flight = asyncio.Semaphore(concurrency or DEFAULT_ORDERS_IN_FLIGHT)
    summary = BatchSummary()

    async def one(order_id: str) -> None:
        try:
            report = await track_order(
                order_id,
                agents,
                tracing,
                limits=limits,
                stop=stop,
                gate=gate,
                on_result=on_result,
                check=check,
                watch=watch,
            )
        finally:
            in_flight.release()
        summary.add(report)
        if on_report:
            on_report(report)

    async with asyncio.TaskGroup() as group:
        for order_id in order_ids:
            await in_flight.acquire()
            if stop is not None and stop.is_set():
                in_flight.release()
                break
            group.create_task(one(order_id))
    return summary
