"""The workflow: one per order, its agents as concurrent activities (one activity per agent
run, the grain the issue chose by measurement: an agent's two model calls stay inside one
activity with its resilience, guard, budget share and deadline).

Workflow code is deterministic: no I/O, no clock but ``workflow.now()``, nothing of the agent
stack imported (the activity runs that, in the worker).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ._messages import AgentData, AgentRequest, OrderRequest

__all__ = ["ACTIVITY", "WORKFLOW", "TrackOrderWorkflow"]

WORKFLOW = "TrackOrder"
ACTIVITY = "run_agent"
HEARTBEAT_S = 2.0  # a worker that dies is noticed after 3 missed heartbeats, not at the timeout
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
        share = max(1, len(request.agents))
        calls = [
            workflow.execute_activity(
                ACTIVITY,
                AgentRequest(
                    order_id=request.order_id,
                    agent=agent,
                    deadline_s=request.deadline_s,
                    max_tokens=request.max_tokens // share,
                    max_cost_usd=request.max_cost_usd / share,
                    max_model_calls=request.max_model_calls,
                ),
                result_type=AgentData,
                # The agent's own deadline ends its run; this is the backstop past it.
                start_to_close_timeout=timedelta(seconds=request.deadline_s + 30),
                heartbeat_timeout=timedelta(seconds=3 * HEARTBEAT_S),
                retry_policy=RETRIES,
            )
            for agent in request.agents
        ]
        return list(await asyncio.gather(*calls))
