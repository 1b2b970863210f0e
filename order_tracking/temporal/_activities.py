"""The activity: one agent run in the worker, through ``run_agent_task`` (resilience, the
input guard, budgets, the deadline) on agents the composition root built once, heartbeating
while it runs so a worker that dies is noticed in seconds. A worker past its hourly spend
limit refuses the run at once (``budget``, not retried); each run is counted in its metrics,
a cancelled one too."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from contextlib import nullcontext

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..answers.policy import CheckPolicy
from ..async_runner import prompt_for, run_agent_task
from ..async_runner.app import App
from ..core.results import STOPPED, AgentResult, RunLimits, Status
from ..ops.logs import log_context, say
from ..ops.watch import Watch, refused_result
from ._messages import AgentData, AgentRequest, result_to_data
from ._workflow import ACTIVITY, HEARTBEAT_S

__all__ = ["AgentActivities"]

LOGGER = "order_tracking.temporal"  # the refusal lines' logger with LOG_FORMAT=json


class AgentActivities:
    def __init__(self, app: App) -> None:
        self.agents = {agent.name: agent for agent in app.agents}
        self.tracing = app.tracing
        self.check = app.answer_check
        self.watch = app.watch or Watch()
        self.refusing = False  # since the last refusal: said once, and once when it ends

    @activity.defn(name=ACTIVITY)
    async def run_agent(self, request: AgentRequest) -> AgentData:
        agent = self.agents.get(request.agent)
        if agent is None:  # another worker version's agent: no retry would help
            raise ApplicationError(f"no agent {request.agent!r} here", type="BadRequest")
        # Not counted as a refused order (that is the submitter's): a run that ended as
        # `budget`, which the workflow does not retry.
        refusal = await self.watch.limit_reached()
        if refusal is not None:
            if not self.refusing:  # a line per refused run would flood the log
                self.refusing = True
                say(
                    f"{refusal.reason}; agent runs end as budget until then",
                    logging.WARNING,
                    LOGGER,
                )
            result = refused_result(agent.name, refusal)
            with log_context(order_id=request.order_id, agent=agent.name):
                self.watch.agent_finished(result, ran=False)
            return result_to_data(result)
        if self.refusing:
            self.refusing = False
            say("hourly limit: agent runs are taken again", logger=LOGGER)
        info = activity.info()
        limits = RunLimits(
            deadline_s=request.deadline_s,
            max_tokens=request.max_tokens,
            max_cost_usd=request.max_cost_usd,
            max_model_calls=request.max_model_calls,
        )
        check = self.check
        if check is not None:  # the submitter's policy; the worker's order ids and formats
            policy = (
                CheckPolicy(request.answer_check)
                if request.answer_check in set(CheckPolicy)
                else check.policy
            )
            check = dataclasses.replace(check, policy=policy)
        # Under Temporal's span for this activity, which its headers tied to the order's trace:
        # the agent run is this worker's part of that trace, written when the activity ends.
        scope = (
            self.tracing.trace(
                f"{ACTIVITY}.{agent.name}",
                {"order_id": request.order_id, "attempt": info.attempt},
            )
            if self.tracing
            else nullcontext()
        )
        beating = asyncio.create_task(_heartbeat())
        started = time.perf_counter()
        try:
            with log_context(order_id=request.order_id, agent=agent.name), scope:
                try:
                    result = await run_agent_task(
                        agent,
                        prompt_for(request.order_id),
                        f"{agent.name}-{info.workflow_id}-{info.attempt}",
                        limits=limits,
                        check=check,
                        order_id=request.order_id,
                    )
                except asyncio.CancelledError:  # Temporal cancelled it, or the worker stops
                    elapsed = time.perf_counter() - started
                    self.watch.agent_finished(
                        AgentResult(agent.name, Status.CANCELLED, "", STOPPED, elapsed)
                    )
                    raise
                self.watch.agent_finished(result)  # in the trace: its log record has the id
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        return result_to_data(result)


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_S)
