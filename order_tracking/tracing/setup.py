"""Monocle set-up: one trace file per order under ``.monocle/``, and the remote exporters
(Okahu, OTLP: ``trace_exporters``) the settings name.

Only the instrumentation we use is installed (ADK, LiteLLM, the offline model): Monocle's
default set imports and wraps every library it knows, which costs seconds at start-up.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from monocle_apptrace.instrumentation.metamodel.adk.methods import ADK_METHODS
from monocle_apptrace.instrumentation.metamodel.litellm.entities.inference import INFERENCE
from monocle_apptrace.instrumentation.metamodel.litellm.methods import LITELLM_METHODS
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import set_span_in_context

from ..core.settings import Settings
from ..core.workarounds import marking_cancelled_calls, with_caller_source_path
from .export import MonocleSpansOnly, redacted
from .exporters import remote_processors
from .writer import TraceFiles

log = logging.getLogger("order_tracking.tracing")

WORKFLOW_NAME = "order_tracking_asyncio"

# Monocle's LiteLLM inference entity, with a provider entity that names the offline model
# (Monocle cannot infer one from a custom provider's class).
OFFLINE_INFERENCE: dict[str, Any] = {
    **INFERENCE,
    "is_auto_close": lambda kwargs: True,
    "attributes": [
        [
            {"attribute": "type", "accessor": lambda arguments: "inference.offline"},
            {"attribute": "provider_name", "accessor": lambda arguments: "offline"},
            {
                "attribute": "inference_endpoint",
                "accessor": lambda arguments: "offline://" + str(arguments["kwargs"].get("model")),
            },
        ],
        *INFERENCE["attributes"][1:],
    ],
}

# Monocle 0.8.15 lists no streamed OpenAI chat call, so `adk web` (which streams) would record
# no inference span for openai/... models. `async_streaming` returns the stream: the span must
# stay open until the stream is consumed, which Monocle's LiteLLM stream processor handles.
_OPENAI_STREAMING = {
    "package": "litellm.llms.openai.openai",
    "object": "OpenAIChatCompletion",
    "method": "async_streaming",
    "wrapper_method": atask_wrapper,
    "output_processor": {**INFERENCE, "is_auto_close": lambda kwargs: False},
}

# A span per backend call, under its tool's span (attributes set by the call itself).
_BACKEND_METHODS = [
    {
        "package": f"order_tracking.backends.{module}",
        "object": cls,
        "method": method,
        "span_name": f"backend.{kind}",
        "wrapper_method": atask_wrapper,
        "output_processor": {"type": f"backend.{kind}", "attributes": []},
    }
    for module, cls, method, kind in (
        ("_http", "HttpBackends", "call", "http"),
        ("_sqlite", "SqliteBackend", "_lookup", "sqlite"),
    )
]

# A span per MCP tool call from the agents (TOOLS_MCP_URL): Monocle's own MCP entry wraps
# mcp 1.x's BaseSession.send_request, which mcp 2.x no longer has.
_MCP_METHODS = [
    {
        "package": "mcp.client.session",
        "object": "ClientSession",
        "method": "call_tool",
        "span_name": "mcp.call_tool",
        "wrapper_method": atask_wrapper,
        "output_processor": {
            "type": "agentic.mcp.invocation",
            "attributes": [
                [
                    {
                        "attribute": "name",
                        "accessor": lambda arguments: (
                            (arguments.get("args") or [None])[0]
                            or (arguments.get("kwargs") or {}).get("name")
                        ),
                    },
                    {"attribute": "type", "accessor": lambda arguments: "mcp.tool"},
                ]
            ],
        },
    }
]

_OFFLINE_METHODS = [
    {
        "package": "order_tracking.models.offline",
        "object": "OfflineModel",
        "method": "respond",
        # The span's name from before the package had wings: what dashboards filter on.
        "span_name": "order_tracking.offline_model.OfflineModel.respond",
        "wrapper_method": atask_wrapper,
        "output_processor": OFFLINE_INFERENCE,
    }
]


@dataclass(frozen=True)
class Tracing:
    """Handle on the configured tracer: start a trace per order, flush, find its file."""

    trace_dir: Path
    files: TraceFiles

    @contextmanager
    def trace(self, name: str, attributes: dict[str, Any] | None = None) -> Iterator[str]:
        """A span around a block, the root of a new trace or, under an OpenTelemetry span from
        another process (a Temporal activity's), a part of that trace; yields the trace id
        (hex). It is also made OpenTelemetry's current span (Monocle keeps its own under
        another key), so what propagates OpenTelemetry's context (Temporal's headers) carries
        this trace.

        start/stop rather than ``amonocle_trace``: the latter masks errors raised inside it.
        """
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
    """Install Monocle before the first agent runs. The first set-up in a process wins.
    ``part`` names this process in its trace files (a worker's: see ``TraceFiles``);
    ``instrument=False`` wraps no library (a process that runs no agent)."""
    global _installed
    if _installed is not None:
        return _installed
    # Monocle also builds the exporters its own variables name (MONOCLE_EXPORTER: unused, we
    # pass processors, and the settings allow only names it builds offline): keep its file
    # exporter's folder ours.
    os.environ["MONOCLE_TRACE_OUTPUT_PATH"] = str(settings.trace_dir)
    # The local file never drops a span (TraceFiles holds them per trace, redacts and
    # writes on its own thread); Okahu and OTLP are remote copies, each behind a bounded
    # batch queue of its own, so the local file is never held up.
    files = TraceFiles(settings.trace_dir, WORKFLOW_NAME, prepare=redacted, part=part)
    processors: list[SpanProcessor] = [MonocleSpansOnly(files), *remote_processors(settings)]
    with warnings.catch_warnings():
        # Monocle also builds the exporters of its environment, which we do not use (we pass
        # our own processors): a folder it cannot make is ours to report (TraceFiles), once.
        warnings.filterwarnings("ignore", "Unable to initialize Monocle span exporter")
        _install_monocle(processors, instrument)
    _installed = Tracing(trace_dir=settings.trace_dir, files=files)
    return _installed


def _install_monocle(processors: list[SpanProcessor], instrument: bool) -> None:
    methods = [*ADK_METHODS, *LITELLM_METHODS, _OPENAI_STREAMING, *_OFFLINE_METHODS, *_MCP_METHODS]
    # A call of a coroutine method cancelled (a model call at its timeout) is an error span.
    entries = [
        marking_cancelled_calls(e) if e["wrapper_method"] is atask_wrapper else e
        for e in [*methods, *_BACKEND_METHODS]
    ]
    setup_monocle_telemetry(
        workflow_name=WORKFLOW_NAME,
        span_processors=processors,
        wrapper_methods=[with_caller_source_path(e) for e in entries] if instrument else [],
        union_with_default_methods=False,
    )
