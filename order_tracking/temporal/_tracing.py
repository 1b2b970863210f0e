"""One trace per order across processes: Temporal's OpenTelemetry interceptor carries the
trace in its headers (client → workflow → activities), and an agent run's result goes back to
Temporal only once this worker's part of the trace is written."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from ..tracing.setup import Tracing
from ._workflow import HEARTBEAT_S

__all__ = ["WAIT_S", "PartsWritten", "trace_interceptors"]

WAIT_S = 10.0  # a writer this far behind (a stalled disk) no longer holds results back


def trace_interceptors(tracing: Tracing | None) -> list[Interceptor]:
    """A worker's interceptors, outermost first."""
    propagation = TracingInterceptor()
    return [PartsWritten(tracing, propagation), propagation] if tracing else [propagation]


class PartsWritten(Interceptor):
    """Outside Temporal's tracing interceptor: after an agent run (and Temporal's span around
    it) has ended, wait until this worker's part of the order's trace is on disk before the
    result is reported. A worker killed after reporting a run has then lost none of its spans
    (the run would not be repeated, so they would be missing for good); one killed before
    reporting loses only spans of a run that Temporal will run again."""

    def __init__(self, tracing: Tracing, propagation: TracingInterceptor) -> None:
        self.tracing, self.propagation = tracing, propagation

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _WaitForParts(next, self)

    def trace_id(self, headers: Mapping[str, Payload]) -> str | None:
        """The trace an activity belongs to, from the headers Temporal's interceptor wrote."""
        payload = headers.get(self.propagation.header_key)
        if payload is None:
            return None
        try:
            [carrier] = self.propagation.payload_converter.from_payloads([payload])
            context = self.propagation.text_map_propagator.extract(carrier)
        except Exception:  # noqa: BLE001 - a foreign header: no trace to wait for
            return None
        span = trace.get_current_span(context).get_span_context()
        # A trace the submitter did not sample is recorded by nobody: nothing to wait for.
        if not (span.is_valid and span.trace_flags.sampled):
            return None
        return format(span.trace_id, "032x")


class _WaitForParts(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: PartsWritten) -> None:
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            result = await super().execute_activity(input)
        except asyncio.CancelledError:  # a worker shutting down: the run goes elsewhere
            raise
        except Exception:
            await self._written(input)
            raise
        await self._written(input)
        return result

    async def _written(self, input: ExecuteActivityInput) -> None:
        """Until this worker's ended parts of the trace are written, at most ``WAIT_S``
        (polled on the event loop, heartbeating: the run is not reported yet, and the
        activity must not look dead meanwhile)."""
        trace_id = self.root.trace_id(input.headers)
        if trace_id is None:
            return
        tracing = self.root.tracing
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        beat = loop.time()
        while not tracing.settled(trace_id) and loop.time() < deadline:
            if loop.time() >= beat:
                activity.heartbeat()
                beat = loop.time() + HEARTBEAT_S
            await asyncio.sleep(0.005)
