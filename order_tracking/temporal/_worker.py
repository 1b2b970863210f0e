"""``track-order worker``: agents built once, then Temporal's worker runs order workflows and
agent activities from the task queue until SIGINT/SIGTERM, when it stops taking work and lets
the activities in flight finish (up to the agent deadline) or hands them back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ..async_runner.app import App
from ._activities import AgentActivities
from ._client import TemporalUnavailable, connect, reason
from ._tracing import trace_interceptors
from ._workflow import TrackOrderWorkflow

__all__ = ["run_worker", "sandbox"]


def sandbox() -> SandboxedWorkflowRunner:
    """Temporal's workflow sandbox, with our package imported once, outside it: the workflow
    uses only plain dataclasses from it, and its start-up code (settings, paths) must not be
    re-run per workflow under the sandbox's restrictions. Workers and replays use the same."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("order_tracking")
    )


async def run_worker(
    app: App,
    stop: asyncio.Event,
    *,
    address: str,
    namespace: str,
    task_queue: str,
    concurrency: int,
    runs_per_second: float | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Run order workflows and agent activities from ``task_queue`` until ``stop`` is set.
    ``runs_per_second`` caps the agent runs started per second across the whole task queue
    (every worker on it), for providers with request-rate limits."""
    client = await connect(address, namespace, traced=False)
    worker = Worker(
        client,
        interceptors=trace_interceptors(app.tracing),
        task_queue=task_queue,
        workflows=[TrackOrderWorkflow],
        workflow_runner=sandbox(),
        activities=[AgentActivities(app).run_agent],
        max_concurrent_activities=concurrency,
        max_task_queue_activities_per_second=runs_per_second,
        graceful_shutdown_timeout=timedelta(seconds=app.limits.deadline_s or 60),
    )
    try:
        async with worker:
            if started is not None:
                started.set()
            await stop.wait()
    except RuntimeError as exc:  # the SDK's fatal worker error (an unknown namespace, say)
        raise TemporalUnavailable(
            f"the worker stopped on {address}, namespace {namespace}: {reason(exc)}"
        ) from None
