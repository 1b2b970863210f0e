"""The client side: connect (a server that cannot be reached is one line, not a hang), start
one workflow per order (idempotent per order and request key), and turn a finished workflow
back into an ``OrderReport``. Every failure of the server (unreachable, dying mid-wait, an
unknown namespace) is ``TemporalUnavailable``, one line; the SDK's own log lines go to Python
logging (stderr, or JSON with ``LOG_FORMAT=json``), never to stdout."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode

from ..core.inbound import Refused
from ..core.order_ids import DEFAULT, OrderIdPattern
from ..core.results import OrderReport
from ._messages import AgentData, OrderRequest, result_from_data
from ._workflow import WORKFLOW

__all__ = [
    "CONNECT_TIMEOUT_S",
    "KEY",
    "NOT_SAMPLED",
    "ORDER_MEMO",
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
ORDER_MEMO = "order_id"  # the id as submitted (the workflow id has it as compared)
# A request key: a step of a workflow id (no "/"), in any shell and URL without quoting.
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_REASON_CHARS = 160


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached, failed or refused the request; one line."""


def reason(exc: BaseException) -> str:
    """What went wrong, in a line: the innermost words when the SDK's message wraps them
    (``… Os { code: 111, kind: ConnectionRefused, message: "Connection refused" } …``),
    else the message's first line, cut at a word with an ellipsis."""
    text = str(getattr(exc, "message", "") or exc).strip() or type(exc).__name__
    said = re.findall(r'message: "([^"]{1,200})"', text)
    if said:  # the innermost cause's
        return said[-1]
    first = text.splitlines()[0]
    if len(first) <= _REASON_CHARS:
        return first
    return first[:_REASON_CHARS].rsplit(" ", 1)[0].rstrip(",:;") + " …"


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The SDK's runtime, once per process, its core's log lines forwarded to Python logging
    (the ``temporalio`` logger: quiet unless ``-v``, JSON with ``LOG_FORMAT=json``). The
    default runtime writes them to stdout, where they corrupt ``submit --json``."""
    global _runtime
    if _runtime is None:
        forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
        logs = LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forwarding
        )
        _runtime = Runtime(telemetry=TelemetryConfig(logging=logs))
    return _runtime


async def connect(address: str, namespace: str, *, traced: bool = True) -> Client:
    """A client whose calls carry the current trace in Temporal's headers (its OpenTelemetry
    interceptor, when ``traced``): a workflow started inside an order's trace, and its
    activities on any worker, are part of that trace. A worker's client is not traced: the
    worker installs its own interceptors (``trace_interceptors``), in its own order."""
    interceptors = [TracingInterceptor()] if traced else []
    try:
        return await asyncio.wait_for(
            Client.connect(
                address, namespace=namespace, interceptors=interceptors, runtime=runtime()
            ),
            CONNECT_TIMEOUT_S,
        )
    except TimeoutError:
        raise TemporalUnavailable(
            f"no Temporal server answered at {address} within {CONNECT_TIMEOUT_S:g}s"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the SDK raises RuntimeError for most of these
        raise TemporalUnavailable(
            f"cannot reach the Temporal server at {address}: {reason(exc)}"
        ) from None


def server_failed(exc: RPCError, subject: str) -> TemporalUnavailable:
    """A failure of the server after connecting, about ``subject`` (a workflow id), as one
    line: what it did not find (a workflow, a namespace), or that it failed (died mid-wait)."""
    if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
        return TemporalUnavailable(f"{subject}: {reason(exc)}")
    return TemporalUnavailable(f"{subject}: the Temporal server failed ({reason(exc)})")


def new_key() -> str:
    return uuid.uuid4().hex[:12]


def workflow_id(order_id: str, key: str, pattern: OrderIdPattern = DEFAULT) -> str:
    """The same order and request key, the same workflow: a repeated submit runs nothing. The
    order is named by its key (``OrderIdPattern.key``): two spellings of one id are one
    order here too."""
    return f"track-order/{pattern.key(order_id)}/{key}"


async def submit(
    client: Client,
    request: OrderRequest,
    *,
    key: str,
    task_queue: str,
    priority: int,
    trace_id: str | None = None,
    pattern: OrderIdPattern = DEFAULT,
) -> WorkflowHandle[object, list[AgentData]]:
    """Start the order's workflow, or find the one this order and key already started
    (running or finished: its result is the first submit's). ``trace_id``, the trace the
    submit is part of, and the order id as written are kept in the workflow's memo, for
    ``result`` (a trace id of ``NOT_SAMPLED``: the order's trace was left out by
    TRACE_SAMPLE_RATIO, which ``result`` says)."""
    wid = workflow_id(request.order_id, key, pattern)
    memo: dict[str, Any] = {ORDER_MEMO: request.order_id, TRACE_MEMO: trace_id or NOT_SAMPLED}
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
            memo=memo,
            # Every agent's deadline and retries fit well inside; a lost order ends, visibly.
            execution_timeout=timedelta(seconds=4 * (request.deadline_s + 30)),
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(wid, result_type=list[AgentData])
    except RPCError as exc:
        raise server_failed(exc, wid) from None


async def report(
    handle: WorkflowHandle[object, list[AgentData]],
    order_id: str,
    pattern: OrderIdPattern = DEFAULT,
) -> tuple[OrderReport, str | None]:
    """The finished order's report (waits for it to finish) and its trace id, if the submit
    was traced. The order is named as it was submitted (the memo's spelling, when it names the
    same order as ``order_id``). A workflow's result is a peer's answer (anyone may start a
    ``TrackOrder``): it is checked as it enters (``result_from_data``). The report's trace
    fields are left for the caller, who knows the folder."""
    try:
        data = await handle.result()
        described = await handle.describe()
        memo = await described.memo()
    except RPCError as exc:
        raise server_failed(exc, handle.id) from None
    except WorkflowFailureError as exc:
        raise TemporalUnavailable(
            f"{handle.id}: the workflow did not complete ({reason(exc.cause or exc)})"
        ) from None
    except TypeError:  # the SDK's converter: the result is not a list of agents' results
        raise TemporalUnavailable(
            f"{handle.id}: not an order's result (not agents' results)"
        ) from None
    wall_s = 0.0
    if described.start_time and described.close_time:
        wall_s = (described.close_time - described.start_time).total_seconds()
    written = memo.get(ORDER_MEMO)
    if isinstance(written, str):
        try:
            written = pattern.parse(written, strip=False)
        except ValueError:
            written = None
        if written is not None and pattern.key(written) == pattern.key(order_id):
            order_id = written
    try:
        results = tuple(result_from_data(d) for d in data)
        if not results:  # anyone may complete a workflow with []: no agent answered, not "ok"
            raise Refused("no agent's result")
    except Refused as exc:
        raise TemporalUnavailable(f"{handle.id}: not an order's result ({exc})") from None
    trace_id = memo.get(TRACE_MEMO)
    if trace_id != NOT_SAMPLED and not (
        isinstance(trace_id, str) and re.fullmatch(r"[0-9a-f]{32}", trace_id)
    ):
        trace_id = None  # a trace id is 32 hex digits; anything else names no trace here
    order = OrderReport(order_id=order_id, results=results, wall_s=wall_s)
    return order, trace_id
