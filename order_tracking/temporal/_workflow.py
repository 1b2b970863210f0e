"""The workflow: one per order, its agents as concurrent activities (one activity per agent
run, the grain the issue chose by measurement: an agent's two model calls stay inside one
activity with its resilience, guard, budget share and deadline).

Workflow code is deterministic: no I/O, no clock but ``workflow.now()``, nothing of the agent
stack imported (the activity runs that, in the worker).
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ._messages import AgentData, OrderRequest

__all__ = ["ACTIVITY", "WORKFLOW", "TrackOrderWorkflow"]

WORKFLOW = "TrackOrder"
ACTIVITY = "run_agent"
HEARTBEAT_S = 2.0
# A worker that dies is noticed after this, not at the start-to-close timeout. Not tighter: a
# worker whose event loop is saturated by CPU-bound agent runs (100 at once on two cores in the
# benchmark) missed 6 s and had its live runs retried elsewhere.
HEARTBEAT_TIMEOUT_S = 15.0
MAX_AGENTS = 32  # agents one order asks; the worker runs only those it has
BACKSTOP_MAX_S = 86_400.0  # the longest any deadline may be (settings' DAY_S)
# Another worker may retry an agent whose worker died; an answer (any status) is final.
RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=["BadRequest"],
)


@workflow.defn(name=WORKFLOW)
class TrackOrderWorkflow:
    @workflow.run
    async def run(self, request: OrderRequest) -> list[AgentData]:
        # The input is anyone's who can reach the server: each agent once, a bounded number of
        # them, a backstop that is a real duration. The worker checks the rest (the id, its
        # own limits) before anything runs.
        agents = list(dict.fromkeys(request.agents))[:MAX_AGENTS]
        asked = float(request.deadline_s)
        # NaN (JSON lets an input carry one) is no duration: max() and min() pass it through.
        asked = BACKSTOP_MAX_S if math.isnan(asked) else asked
        backstop = min(max(asked, 1.0), BACKSTOP_MAX_S) + 30
        calls = [
            workflow.execute_activity(
                ACTIVITY,
                request.for_agent(agent),
                result_type=AgentData,
                # The agent's own deadline ends its run; this is the backstop past it.
                start_to_close_timeout=timedelta(seconds=backstop),
                heartbeat_timeout=timedelta(seconds=HEARTBEAT_TIMEOUT_S),
                retry_policy=RETRIES,
            )
            for agent in agents
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        # An agent whose every attempt failed is that agent's error, never the order's: the
        # other agents' answers stand, as in one process.
        return [
            result
            if isinstance(result, AgentData)
            else AgentData(
                agent=agent,
                status="error",
                text="",
                error=f"the agent run failed on every attempt ({_cause(result)})",
                elapsed_s=0.0,
            )
            for agent, result in zip(agents, results, strict=True)
        ]


def _cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error) or type(error).__name__
