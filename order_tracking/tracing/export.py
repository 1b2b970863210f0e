"""Which spans are kept (Monocle's and Temporal's: ``MonocleSpansOnly``) and every string
redacted before a span leaves the process (``RedactingExporter``, ``redacted``). The trace
files themselves are ``trace_writer``'s."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import ns_to_iso_str
from opentelemetry.trace import Status, format_span_id, format_trace_id

from ..core.redaction import redact

__all__ = [
    "MONOCLE_SCOPE",
    "TEMPORAL_SCOPE",
    "MonocleSpansOnly",
    "RedactingExporter",
    "redacted",
    "redacted_record",
]

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


def redacted_record(span: ReadableSpan) -> dict[str, Any]:
    """What ``serialize_span(redacted(span))`` gives once Monocle is set up (Monocle's span
    JSON: OpenTelemetry's ``to_json`` with the status ``message`` and the ids without their
    ``0x``), built in one pass: no span copied, no JSON written and read back four times. One
    difference: Monocle's ``to_json`` also cuts ``0x`` off any attribute *value* starting
    with it; here a value is kept as it was recorded."""
    context, parent = span.context, span.parent
    status: dict[str, Any] = {"status_code": span.status.status_code.name}
    if span.status.description:
        status["message"] = _cut(redact(span.status.description))
    return {
        "name": span.name,
        "context": _context(context) if context else None,
        "kind": str(span.kind),
        "parent_id": format_span_id(parent.span_id) if parent is not None else None,
        "start_time": ns_to_iso_str(span.start_time) if span.start_time else None,
        "end_time": ns_to_iso_str(span.end_time) if span.end_time else None,
        "status": status,
        "attributes": _attributes(span.attributes),
        "events": [
            {
                "name": e.name,
                "timestamp": ns_to_iso_str(e.timestamp),
                "attributes": _attributes(e.attributes),
            }
            for e in span.events
        ],
        "links": [
            {"context": _context(link.context), "attributes": _attributes(link.attributes)}
            for link in span.links
        ],
        "resource": _resource(span.resource),
    }


def _context(context: Any) -> dict[str, str]:
    return {
        "trace_id": format_trace_id(context.trace_id),
        "span_id": format_span_id(context.span_id),
        "trace_state": repr(context.trace_state),
    }


def _attributes(attributes: Any) -> dict[str, Any] | None:
    if attributes is None:
        return None
    # As JSON has them: a sequence is a list (``to_json`` writes tuples as lists).
    return {k: _redact_value(list(v) if isinstance(v, tuple) else v) for k, v in attributes.items()}


_resources: dict[int, tuple[Any, dict[str, Any]]] = {}


def _resource(resource: Any) -> dict[str, Any]:
    """A resource's JSON, worked out once: every span of a process shares the same one."""
    known = _resources.get(id(resource))
    if known is None or known[0] is not resource:
        known = (resource, json.loads(resource.to_json()))
        _resources[id(resource)] = known
    return known[1]
