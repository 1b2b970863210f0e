"""Monocle set-up: one trace file per order under ``.monocle/``, and Okahu when a key is set.

Only the instrumentation we use is installed (ADK, LiteLLM, the offline model): Monocle's
default set imports and wraps every library it knows, which costs seconds at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monocle_apptrace import setup_monocle_telemetry
from monocle_apptrace.exporters.base_exporter import serialize_span
from monocle_apptrace.exporters.okahu.okahu_exporter import OkahuSpanExporter
from monocle_apptrace.instrumentation.common.constants import MONOCLE_SDK_VERSION
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
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from .config import Settings
from .redaction import redact

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

_OFFLINE_METHODS = [
    {
        "package": "order_tracking.offline_model",
        "object": "OfflineModel",
        "method": "respond",
        "wrapper_method": atask_wrapper,
        "output_processor": OFFLINE_INFERENCE,
    }
]


class TraceFiles(SpanExporter):
    """Monocle's spans as one JSON file per trace, written whole once the trace's root ends.

    Monocle's own file exporter appends each batch to an open file and closes it when the
    root arrives, so a reader can meet a half-written file, and a file's path has to be
    searched for. Here a trace's spans wait in memory until its root span (no parent, or
    Monocle's workflow span) arrives; then the file is written under a temporary name and
    renamed: a trace file that exists is complete. Names follow Monocle's
    (``monocle_trace_<service>_<trace id>_<time>.json``) and the spans are Monocle's JSON,
    without the indentation (which costs a pure-Python encoder per span).
    """

    _REMEMBERED = 4096  # paths kept for ``path_for`` and for spans that end after their root

    def __init__(self, folder: Path, service: str = WORKFLOW_NAME) -> None:
        self.folder, self.service = folder, service
        self._pending: dict[int, list[ReadableSpan]] = {}
        self._written: OrderedDict[int, Path] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _is_root(span: ReadableSpan) -> bool:
        return span.parent is None or (span.attributes or {}).get("span.type") == "workflow"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        complete = []
        with self._lock:
            for span in spans:
                trace_id = span.context.trace_id
                self._pending.setdefault(trace_id, []).append(span)
                if self._is_root(span) or trace_id in self._written:
                    complete.append(trace_id)
        for trace_id in dict.fromkeys(complete):
            self._write(trace_id)
        return SpanExportResult.SUCCESS

    def _write(self, trace_id: int) -> None:
        with self._lock:
            spans = self._pending.pop(trace_id, [])
            path = self._written.get(trace_id)
        if not spans:
            return
        records = [serialize_span(span) for span in spans]
        if path is None:
            first = min(span.start_time or 0 for span in spans)
            stamp = datetime.fromtimestamp(first / 1e9).strftime("%Y-%m-%d_%H.%M.%S")
            path = self.folder / f"monocle_trace_{self.service}_{trace_id:032x}_{stamp}.json"
        else:  # spans that ended after their root: the file is rewritten with them
            records = json.loads(path.read_text(encoding="utf-8")) + records
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(
            "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n",
            encoding="utf-8",
        )
        os.replace(partial, path)
        with self._lock:
            self._written[trace_id] = path
            while len(self._written) > self._REMEMBERED:
                self._written.popitem(last=False)

    def path_for(self, trace_id: int) -> Path | None:
        with self._lock:
            return self._written.get(trace_id)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered but traces whose root has not ended yet

    def shutdown(self) -> None:
        # Traces still open at exit (their root never ended) are written as they are.
        with self._lock:
            open_traces = list(self._pending)
        for trace_id in open_traces:
            self._write(trace_id)


class MonocleSpansOnly(SpanProcessor):
    """Hands on only the spans Monocle made. ADK records its own OpenTelemetry spans through
    the same (global) tracer provider; nothing exports them, so they are dropped here rather
    than queued, redacted and then skipped by the exporter."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if (span.attributes or {}).get(MONOCLE_SDK_VERSION) is not None:
            self.inner.on_end(span)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


@dataclass(frozen=True)
class Tracing:
    """Handle on the configured tracer: start a trace per order, flush, find its file."""

    trace_dir: Path
    files: TraceFiles

    @contextmanager
    def trace(self, name: str, attributes: dict[str, Any] | None = None) -> Iterator[str]:
        """A workflow span around a block; yields the trace id (hex).

        start/stop rather than ``amonocle_trace``: the latter masks errors raised inside it.
        """
        token = start_trace(span_name=name, attributes=attributes)
        trace_id = format(get_current_monocle_span().get_span_context().trace_id, "032x")
        try:
            yield trace_id
        finally:
            stop_trace(token)

    def flush(self, timeout_s: float = 10.0) -> None:
        get_tracer_provider().force_flush(int(timeout_s * 1000))

    def file_for(self, trace_id: str) -> Path | None:
        """The trace's JSON file, once flushed; None if it has not been written."""
        return self.files.path_for(int(trace_id, 16))


class RedactingExporter(SpanExporter):
    """Hands spans on with every string redacted: attributes, events and the status
    description, where Monocle records a provider's raw error message (which may echo a
    key). Monocle's own obfuscators cover event payloads only."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_redact_value(v) for v in value)
    return value


def _redacted(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, redact(status.description))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={k: _redact_value(v) for k, v in (span.attributes or {}).items()},
        events=[
            Event(
                e.name, {k: _redact_value(v) for k, v in (e.attributes or {}).items()}, e.timestamp
            )
            for e in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _cheap_source_path(entry: dict[str, Any]) -> dict[str, Any]:
    """The same wrapper, told its caller's file and line (the span's ``span_source``).

    Left to itself, Monocle's wrapper finds them with two ``traceback.extract_stack()`` calls
    on every wrapped call: the whole stack, source lines read from disk, about 0.8 ms each
    time. The caller's frame gives the same answer for nothing.
    """
    make_wrapper = entry["wrapper_method"]

    def wrapper_method(tracer: Any, handler: Any, to_wrap: Any) -> Callable[..., Any]:
        wrapper = make_wrapper(tracer, handler, to_wrap)

        def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            caller = sys._getframe(1)  # the code that called the instrumented method
            source = f"{caller.f_code.co_filename}:{caller.f_lineno}"
            return wrapper(wrapped, instance, args, kwargs, source_path=source)

        return call

    return {**entry, "wrapper_method": wrapper_method}


def trace_event(name: str, attributes: dict[str, Any]) -> None:
    """An event on the current Monocle span (an agent's, a model call's); nothing outside
    a trace. ``None`` values are left out."""
    span = get_current_monocle_span()
    if span is not None and span.is_recording():
        span.add_event(name, {k: v for k, v in attributes.items() if v is not None})


def trace_circuit_change(model: str, old: str, new: str) -> None:
    """Breaker listener: a warning in the log and an event in the current trace."""
    log.warning("circuit for %s: %s -> %s", model, old, new)
    trace_event("circuit.state_change", {"model": model, "from": old, "to": new})


_installed: Tracing | None = None


def shut_down() -> None:
    """Flush and close the exporters (what the tracer provider would do at interpreter exit;
    the CLI exits without waiting for that)."""
    if _installed is not None:
        get_tracer_provider().shutdown()


def setup_tracing(settings: Settings) -> Tracing:
    """Install Monocle before the first agent runs. The first set-up in a process wins."""
    global _installed
    if _installed is not None:
        return _installed
    # Monocle also builds a default file exporter of its own (unused): keep its folder ours.
    os.environ["MONOCLE_TRACE_OUTPUT_PATH"] = str(settings.trace_dir)
    # ADK's own spans go nowhere (see MonocleSpansOnly): don't have it serialise every
    # prompt and answer into them. Monocle records those in its own spans.
    os.environ.setdefault("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "false")
    files = TraceFiles(settings.trace_dir)
    exporters: list[SpanExporter] = [files]
    if settings.okahu_enabled:
        # Only with a key: without one Monocle's okahu exporter dumps every span on stdout.
        # Monocle waits 15 s per upload; a slow Okahu must not hold the exit that long. Its
        # batch processor is separate from the file's, so the local file is never held up.
        exporters.append(OkahuSpanExporter(timeout=settings.okahu_export_timeout_s))
    setup_monocle_telemetry(
        workflow_name=WORKFLOW_NAME,
        span_processors=[
            MonocleSpansOnly(BatchSpanProcessor(RedactingExporter(e))) for e in exporters
        ],
        wrapper_methods=[
            _cheap_source_path(entry)
            for entry in [*ADK_METHODS, *LITELLM_METHODS, _OPENAI_STREAMING, *_OFFLINE_METHODS]
        ],
        union_with_default_methods=False,
    )
    _installed = Tracing(trace_dir=settings.trace_dir, files=files)
    return _installed
