"""The activity: one agent run in the worker, through ``run_agent_task`` (resilience, the
input guard, budgets, the deadline) on agents the composition root built once, heartbeating
while it runs so a worker that dies is noticed in seconds. A worker past its hourly spend
limit refuses the run at once (``budget``, not retried); each run is counted in its metrics,
a cancelled one too.

A request is a peer's (anyone may start a workflow): it enters through ``checked_request``,
its id re-checked against this worker's ``ORDER_ID_PATTERN`` (one that is not an id never
reaches a prompt, a log or a trace: the run is refused, not retried) and this worker's own
limits applied, which a request may only tighten."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from contextlib import nullcontext

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..async_runner import prompt_for, run_agent_task
from ..async_runner.app import App
from ..core.inbound import Refused
from ..core.results import STOPPED, AgentResult, Status
from ..core.settings import CheckPolicy
from ..ops.logs import log_context, say
from ..ops.watch import Watch, refused_result
from ._messages import AgentData, AgentRequest, checked_request, result_to_data
from ._workflow import ACTIVITY, HEARTBEAT_S

__all__ = ["AgentActivities"]

LOGGER = "order_tracking.temporal"  # the refusal lines' logger with LOG_FORMAT=json


class AgentActivities:
    def __init__(self, app: App) -> None:
        self.agents = {agent.name: agent for agent in app.agents}
        self.tracing = app.tracing
        self.check = app.answer_check
        self.order_ids, self.limits = app.settings.order_ids, app.limits
        self.watch = app.watch or Watch()
        self.refusing = False  # since the last refusal: said once, and once when it ends

    @activity.defn(name=ACTIVITY)
    async def run_agent(self, request: AgentRequest) -> AgentData:
        agent = self.agents.get(request.agent) if isinstance(request.agent, str) else None
        if agent is None:  # another worker version's agent: no retry would help
            raise ApplicationError(
                f"no agent {str(request.agent)[:64]!r} here", type="BadRequest", non_retryable=True
            )
        own_policy = self.check.policy if self.check is not None else CheckPolicy.FLAG
        try:
            order_id, limits, policy = checked_request(
                request, self.order_ids, self.limits, own_policy
            )
        except Refused as exc:  # never retried: the same input is refused everywhere
            raise ApplicationError(
                f"refused: {exc}", type="BadRequest", non_retryable=True
            ) from None
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
            with log_context(order_id=order_id, agent=agent.name):
                self.watch.agent_finished(result, ran=False)
            return result_to_data(result)
        if self.refusing:
            self.refusing = False
            say("hourly limit: agent runs are taken again", logger=LOGGER)
        info = activity.info()
        check = self.check
        if check is not None:  # the stricter policy; the worker's order ids and formats
            check = dataclasses.replace(check, policy=policy)
        # Under Temporal's span for this activity, which its headers tied to the order's trace:
        # the agent run is this worker's part of that trace, written when the activity ends.
        scope = (
            self.tracing.trace(
                f"{ACTIVITY}.{agent.name}",
                {"order_id": order_id, "attempt": info.attempt},
            )
            if self.tracing
            else nullcontext()
        )
        beating = asyncio.create_task(_heartbeat())
        started = time.perf_counter()
        try:
            with log_context(order_id=order_id, agent=agent.name), scope:
                try:
                    result = await run_agent_task(
                        agent,
                        prompt_for(order_id),
                        f"{agent.name}-{info.workflow_id}-{info.attempt}",
                        limits=limits,
                        check=check,
                        order_id=order_id,
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
