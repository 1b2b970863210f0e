"""Monocle set-up: one trace file per order under ``.monocle/``, and the remote exporters
(Okahu, OTLP: ``trace_exporters``) the settings name.

Only the instrumentation we use is installed (ADK, LiteLLM, the offline model): Monocle's
default set imports and wraps every library it knows, which costs seconds at start-up.

``TRACE_SAMPLE_RATIO`` keeps that share of orders' traces, decided once per order at its
root (parent-based: a part of an order's trace in another process, a Temporal worker's,
follows the order's choice through the context it inherits). An order left out is run with
the trace context of a span that records nothing, so what it calls sees "not sampled"; every
Monocle wrapper then skips its span through Monocle's own span handlers (``skip_span``), and
the order costs about what an untraced one does. OpenTelemetry's own samplers cannot do this:
Monocle 0.8.15 fails on the non-recording spans they return.
"""

from __future__ import annotations

import logging
import os
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monocle_apptrace import setup_monocle_telemetry
from monocle_apptrace.instrumentation.common.instrumentor import (
    get_tracer_provider,
    start_trace,
    stop_trace,
)
from monocle_apptrace.instrumentation.common.utils import get_current_monocle_span
from monocle_apptrace.instrumentation.common.wrapper import atask_wrapper
from monocle_apptrace.instrumentation.common.wrapper_method import MONOCLE_SPAN_HANDLERS
from monocle_apptrace.instrumentation.metamodel.adk.methods import ADK_METHODS
from monocle_apptrace.instrumentation.metamodel.litellm.methods import LITELLM_METHODS
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import set_span_in_context

from ..core.settings import Settings
from ..core.workarounds import marking_cancelled_calls, with_caller_source_path
from .export import MonocleSpansOnly, redacted_record
from .exporters import remote_processors
from .instrumented import OUR_METHODS
from .sampling import not_sampled, sampled_only
from .writer import TraceFiles

log = logging.getLogger("order_tracking.tracing")

WORKFLOW_NAME = "order_tracking_asyncio"


@dataclass(frozen=True)
class Tracing:
    """Handle on the configured tracer: start a trace per order, flush, find its file.
    ``sample_ratio``: the share of orders traced (``rng`` draws; tests pass a seeded one)."""

    trace_dir: Path
    files: TraceFiles
    sample_ratio: float = 1.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @contextmanager
    def trace(self, name: str, attributes: dict[str, Any] | None = None) -> Iterator[str | None]:
        """A span around a block, the root of a new trace or, under an OpenTelemetry span from
        another process (a Temporal activity's), a part of that trace; yields the trace id
        (hex), or None when the order is not sampled (see the module's docstring). It is also
        made OpenTelemetry's current span (Monocle keeps its own under another key), so what
        propagates OpenTelemetry's context (Temporal's headers) carries this trace, and its
        sampling decision.

        start/stop rather than ``amonocle_trace``: the latter masks errors raised inside it.
        """
        parent = otel_trace.get_current_span().get_span_context()
        left_out = not_sampled(parent, self.sample_ratio, self.rng)
        if left_out is not None:
            with left_out:
                yield None
            return
        if self.sample_ratio < 1 and not parent.is_valid:
            attributes = {**(attributes or {}), "trace.sample_ratio": self.sample_ratio}
        token = start_trace(span_name=name, attributes=attributes)
        span = get_current_monocle_span()
        trace_id = format(span.get_span_context().trace_id, "032x")
        current = otel_context.attach(set_span_in_context(span))
        try:
            yield trace_id
        finally:
            otel_context.detach(current)
            stop_trace(token)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Everything ended so far, to every exporter (the files and Okahu)."""
        get_tracer_provider().force_flush(int(timeout_s * 1000))

    def wait_for(self, trace_id: str, timeout_s: float = 10.0) -> None:
        """Until this trace's file is written (its root has ended), not anyone else's."""
        self.files.wait_for(int(trace_id, 16), timeout_s)

    async def written(self, trace_id: str, timeout_s: float = 10.0) -> None:
        """``wait_for`` without a thread: the event loop is told when the file is written."""
        await self.files.written(int(trace_id, 16), timeout_s)

    def settled(self, trace_id: str) -> bool:
        """Whether this process's parts of the trace that have ended are written (see
        ``TraceFiles.settled``); never blocks."""
        return self.files.settled(int(trace_id, 16))

    def file_for(self, trace_id: str) -> Path | None:
        """The trace's JSON file, once flushed; None if it has not been written."""
        return self.files.path_for(int(trace_id, 16))

    def error_for(self, trace_id: str) -> str | None:
        """Why the trace's file could not be written (folder and reason), once flushed."""
        return self.files.error_for(int(trace_id, 16))


def trace_event(name: str, attributes: dict[str, Any]) -> None:
    """An event on the current Monocle span (an agent's, a model call's); nothing outside
    a trace. ``None`` values are left out."""
    span = get_current_monocle_span()
    if span is not None and span.is_recording():
        span.add_event(name, {k: v for k, v in attributes.items() if v is not None})


def current_span_attributes(attributes: dict[str, Any]) -> None:
    """Attributes on the current Monocle span (a backend call's); ``None`` values left out."""
    span = get_current_monocle_span()
    if span is not None and span.is_recording():
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})


def trace_circuit_change(model: str, old: str, new: str) -> None:
    """Breaker listener: a warning in the log and an event in the current trace."""
    log.warning("circuit for %s: %s -> %s", model, old, new)
    trace_event("circuit.state_change", {"model": model, "from": old, "to": new})


_installed: Tracing | None = None


def shut_down() -> list[str]:
    """Flush and close the exporters (what the tracer provider would do at interpreter exit;
    the CLI exits without waiting for that). Returns the trace-file write failures nobody
    has reported yet."""
    if _installed is None:
        return []
    get_tracer_provider().shutdown()
    return _installed.files.take_errors()


def setup_tracing(
    settings: Settings, *, part: str | None = None, instrument: bool = True
) -> Tracing:
    """Install Monocle before the first agent runs. The first set-up in a process wins (but
    for the share of orders traced, each caller's own: ``TRACE_SAMPLE_RATIO``).
    ``part`` names this process in its trace files (a worker's: see ``TraceFiles``);
    ``instrument=False`` wraps no library (a process that runs no agent)."""
    global _installed
    if _installed is not None:  # Monocle is set up once; the share of orders traced is ours
        return replace(_installed, sample_ratio=settings.trace_sample_ratio)
    # Monocle also builds the exporters its own variables name (MONOCLE_EXPORTER: unused, we
    # pass processors, and the settings allow only names it builds offline): keep its file
    # exporter's folder ours.
    os.environ["MONOCLE_TRACE_OUTPUT_PATH"] = str(settings.trace_dir)
    # The local file never drops a span (TraceFiles holds them per trace, redacts and
    # writes on its own thread); Okahu and OTLP are remote copies, each behind a bounded
    # batch queue of its own, so the local file is never held up.
    files = TraceFiles(settings.trace_dir, WORKFLOW_NAME, record=redacted_record, part=part)
    processors: list[SpanProcessor] = [MonocleSpansOnly(files), *remote_processors(settings)]
    with warnings.catch_warnings():
        # Monocle also builds the exporters of its environment, which we do not use (we pass
        # our own processors): a folder it cannot make is ours to report (TraceFiles), once.
        warnings.filterwarnings("ignore", "Unable to initialize Monocle span exporter")
        _install_monocle(processors, instrument)
    _installed = Tracing(settings.trace_dir, files, sample_ratio=settings.trace_sample_ratio)
    return _installed


def _install_monocle(processors: list[SpanProcessor], instrument: bool) -> None:
    # A call of a coroutine method cancelled (a model call at its timeout) is an error span.
    entries = [
        marking_cancelled_calls(e) if e["wrapper_method"] is atask_wrapper else e
        for e in [*ADK_METHODS, *LITELLM_METHODS, *OUR_METHODS]
    ]
    handlers = {e.get("span_handler", "default") for e in entries}
    setup_monocle_telemetry(
        workflow_name=WORKFLOW_NAME,
        span_processors=processors,
        wrapper_methods=[with_caller_source_path(e) for e in entries] if instrument else [],
        union_with_default_methods=False,
        span_handlers={name: sampled_only(MONOCLE_SPAN_HANDLERS[name]) for name in handlers},
        # Monocle's own obfuscation (regexes over the input and output events of each span,
        # about a third of Monocle's CPU per run) is off: our redaction runs over every string
        # of every span before any exporter sees it, and knows its credential shapes too.
        span_obfuscators=[],
    )
