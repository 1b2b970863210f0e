"""The client side: connect (a server that cannot be reached is one line, not a hang), start
one workflow per order (idempotent per order and request key), and turn a finished workflow
back into an ``OrderReport``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.exceptions import WorkflowAlreadyStartedError

from ..core.results import OrderReport
from ._messages import AgentData, OrderRequest, result_from_data
from ._workflow import WORKFLOW

__all__ = [
    "CONNECT_TIMEOUT_S",
    "NOT_SAMPLED",
    "TRACE_MEMO",
    "TemporalUnavailable",
    "connect",
    "new_key",
    "report",
    "submit",
    "workflow_id",
]

CONNECT_TIMEOUT_S = 5.0
TRACE_MEMO = "trace_id"
NOT_SAMPLED = "not-sampled"  # the memo's trace id when TRACE_SAMPLE_RATIO left it out


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached or refused the request; one line."""


async def connect(address: str, namespace: str, *, traced: bool = True) -> Client:
    """A client whose calls carry the current trace in Temporal's headers (its OpenTelemetry
    interceptor, when ``traced``): a workflow started inside an order's trace, and its
    activities on any worker, are part of that trace. A worker's client is not traced: the
    worker installs its own interceptors (``trace_interceptors``), in its own order."""
    interceptors = [TracingInterceptor()] if traced else []
    try:
        return await asyncio.wait_for(
            Client.connect(address, namespace=namespace, interceptors=interceptors),
            CONNECT_TIMEOUT_S,
        )
    except TimeoutError:
        raise TemporalUnavailable(
            f"no Temporal server answered at {address} within {CONNECT_TIMEOUT_S:g}s"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the SDK raises RuntimeError for most of these
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise TemporalUnavailable(
            f"cannot reach the Temporal server at {address}: {reason}"
        ) from None


def new_key() -> str:
    return uuid.uuid4().hex[:12]


def workflow_id(order_id: str, key: str) -> str:
    """The same order and request key, the same workflow: a repeated submit runs nothing."""
    return f"track-order/{order_id}/{key}"


async def submit(
    client: Client,
    request: OrderRequest,
    *,
    key: str,
    task_queue: str,
    priority: int,
    trace_id: str | None = None,
) -> WorkflowHandle[object, list[AgentData]]:
    """Start the order's workflow, or find the one this order and key already started
    (running or finished: its result is the first submit's). ``trace_id``, the trace the
    submit is part of, is kept in the workflow's memo, for ``result`` to name (None: the
    order's trace was not sampled, which ``result`` says)."""
    wid = workflow_id(request.order_id, key)
    try:
        return await client.start_workflow(
            WORKFLOW,
            request,
            id=wid,
            task_queue=task_queue,
            result_type=list[AgentData],
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            priority=Priority(priority_key=priority),
            memo={TRACE_MEMO: trace_id or NOT_SAMPLED},
            # Every agent's deadline and retries fit well inside; a lost order ends, visibly.
            execution_timeout=timedelta(seconds=4 * (request.deadline_s + 30)),
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(wid, result_type=list[AgentData])


async def report(
    handle: WorkflowHandle[object, list[AgentData]], order_id: str
) -> tuple[OrderReport, str | None]:
    """The finished order's report (waits for it to finish) and its trace id, if the submit
    was traced. The report's trace fields are left for the caller, who knows the folder."""
    data = await handle.result()
    described = await handle.describe()
    wall_s = 0.0
    if described.start_time and described.close_time:
        wall_s = (described.close_time - described.start_time).total_seconds()
    trace_id = (await described.memo()).get(TRACE_MEMO)
    order = OrderReport(
        order_id=order_id, results=tuple(result_from_data(d) for d in data), wall_s=wall_s
    )
    return order, trace_id if isinstance(trace_id, str) else None
