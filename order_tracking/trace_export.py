"""Where Monocle's spans go: one JSON file per trace, written whole (``TraceFiles``), only
Monocle's own spans (``MonocleSpansOnly``), every string redacted first
(``RedactingExporter``)."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monocle_apptrace.exporters.base_exporter import serialize_span
from monocle_apptrace.instrumentation.common.constants import MONOCLE_SDK_VERSION
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from .redaction import redact

__all__ = ["MonocleSpansOnly", "RedactingExporter", "TraceFiles"]


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

    def __init__(self, folder: Path, service: str) -> None:
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
