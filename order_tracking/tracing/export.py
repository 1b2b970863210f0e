"""Which spans are kept (Monocle's and Temporal's: ``MonocleSpansOnly``) and every string
redacted before a span leaves the process (``RedactingExporter``, ``redacted``). The trace
files themselves are ``trace_writer``'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from ..core.redaction import redact

__all__ = ["MONOCLE_SCOPE", "TEMPORAL_SCOPE", "MonocleSpansOnly", "RedactingExporter", "redacted"]

MONOCLE_SCOPE = "monocle_apptrace"  # the instrumentation scope of every span Monocle makes

# The instrumentation scope of Temporal's tracing interceptor: its spans (start workflow, run
# workflow, start/run activity) link a trace's parts across processes, so they are kept.
TEMPORAL_SCOPE = "temporalio.contrib.opentelemetry._interceptor"


class MonocleSpansOnly(SpanProcessor):
    """Hands on only the spans Monocle made, and Temporal's (which join a trace's parts).
    ADK records its own OpenTelemetry spans through the same (global) tracer provider; nothing
    exports them, so they are dropped here rather than queued, redacted and then skipped by
    the exporter."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner
        self._monocle_on_start: Callable[[Span, Context | None], None] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Monocle's set-up replaces every processor's ``on_start`` with its own hook (session
        # properties as attributes). The trace files must see starts too (a span's part is
        # known from its parent when it starts), so Monocle's hook is kept and run first.
        object.__setattr__(self, "_monocle_on_start" if name == "on_start" else name, value)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._monocle_on_start is not None:
            self._monocle_on_start(span, parent_context)
        if _kept(span):
            self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if _kept(span):
            self.inner.on_end(span)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _kept(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name in (MONOCLE_SCOPE, TEMPORAL_SCOPE)


class RedactingExporter(SpanExporter):
    """Hands spans on with every string redacted: attributes, events and the status
    description, where Monocle records a provider's raw error message (which may echo a
    key). Monocle's own obfuscators cover event payloads only."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


MAX_STATUS_CHARS = 2_000  # a span's error: the reason is at its start (a peer's may be MBs)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_STATUS_CHARS else text[: MAX_STATUS_CHARS - 1] + "…"


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_redact_value(v) for v in value)
    return value


def redacted(span: ReadableSpan) -> ReadableSpan:
    """The span with every string redacted (attributes, events, status description)."""
    status = span.status
    if status.description:  # a peer's error message, as an instrumentation recorded it
        status = Status(status.status_code, _cut(redact(status.description)))
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
