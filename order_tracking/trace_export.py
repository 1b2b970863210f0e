"""Where Monocle's spans go: one JSON file per trace, written whole (``TraceFiles``), only
Monocle's own spans (``MonocleSpansOnly``), every string redacted first
(``RedactingExporter``)."""

from __future__ import annotations

import json
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
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

__all__ = ["MonocleSpansOnly", "RedactingExporter", "TraceFiles", "redacted", "write_whole"]


def write_whole(path: Path, text: str) -> None:
    """``text`` into ``path`` whole or not at all: written under a temporary name, then
    renamed; on failure (a full disk) the temporary file is removed and the error raised."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class TraceFiles(SpanProcessor):
    """Monocle's spans as one JSON file per trace, written whole once the trace's root ends,
    and no span ever dropped.

    Monocle's own file exporter appends each batch to an open file and closes it when the
    root arrives, so a reader can meet a half-written file, and a file's path has to be
    searched for; behind OpenTelemetry's batch processor, spans past 2,048 queued are dropped,
    which thousands of orders cancelled at once exceed. Here a trace's spans wait in memory
    (only the traces in flight are held) until its root span (no parent, or Monocle's
    workflow span) ends; then a writer thread redacts them and writes the file under a
    temporary name, renamed when complete: a trace file that exists is complete. Names follow
    Monocle's (``monocle_trace_<service>_<trace id>_<time>.json``) and the spans are Monocle's
    JSON, one per line. A write that fails (a full disk, a folder that cannot be made) leaves
    no file behind and is recorded (:meth:`error_for`, :meth:`take_errors`), never raised into
    a run.
    """

    _REMEMBERED = 4096  # outcomes kept for ``path_for``/``error_for`` and late spans

    def __init__(
        self,
        folder: Path,
        service: str,
        *,
        prepare: Callable[[ReadableSpan], ReadableSpan] = lambda span: span,
        write: Callable[[Path, str], None] = write_whole,
    ) -> None:
        self.folder, self.service = folder, service
        self._prepare, self._write_file = prepare, write
        self._pending: dict[int, list[ReadableSpan]] = {}
        self._written: OrderedDict[int, Path] = OrderedDict()
        self._failed: OrderedDict[int, str] = OrderedDict()
        self._errors: list[str] = []  # distinct, not yet taken
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._outstanding = 0
        self._idle = threading.Condition()
        self._writer: threading.Thread | None = None

    @staticmethod
    def _is_root(span: ReadableSpan) -> bool:
        return span.parent is None or (span.attributes or {}).get("span.type") == "workflow"

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        with self._idle:
            self._pending.setdefault(trace_id, []).append(span)
            if self._is_root(span) or trace_id in self._written or trace_id in self._failed:
                self._enqueue(trace_id)

    def _enqueue(self, trace_id: int) -> None:  # with self._idle held
        self._outstanding += 1
        if self._writer is None:
            self._writer = threading.Thread(target=self._run, name="trace-files", daemon=True)
            self._writer.start()
        self._queue.put(trace_id)

    def _run(self) -> None:
        while (trace_id := self._queue.get()) is not None:
            try:
                self._write(trace_id)
            finally:
                with self._idle:
                    self._outstanding -= 1
                    self._idle.notify_all()

    def _write(self, trace_id: int) -> None:
        with self._idle:
            spans = self._pending.pop(trace_id, [])
            path = self._written.get(trace_id)
        if not spans:
            return
        try:
            records = [serialize_span(self._prepare(span)) for span in spans]
            if path is None:
                first = min(span.start_time or 0 for span in spans)
                stamp = datetime.fromtimestamp(first / 1e9).strftime("%Y-%m-%d_%H.%M.%S")
                path = self.folder / f"monocle_trace_{self.service}_{trace_id:032x}_{stamp}.json"
            else:  # spans that ended after their root: the file is rewritten with them
                records = json.loads(path.read_text(encoding="utf-8")) + records
            self.folder.mkdir(parents=True, exist_ok=True)
            text = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
            self._write_file(path, f"[\n{text}\n]\n")
        except Exception as exc:  # noqa: BLE001 - one trace's failure never stops the writer
            if isinstance(exc, OSError) and exc.strerror:
                reason = exc.strerror
            else:
                reason = f"{type(exc).__name__}: {exc}"
            self._remember(self._failed, trace_id, f"cannot write to {self.folder}/: {reason}")
            return
        self._remember(self._written, trace_id, path)

    def _remember(self, outcomes: OrderedDict[int, Any], trace_id: int, outcome: Any) -> None:
        with self._idle:
            outcomes[trace_id] = outcome
            while len(outcomes) > self._REMEMBERED:
                outcomes.popitem(last=False)
            if outcomes is self._failed and outcome not in self._errors:
                self._errors.append(outcome)
            if trace_id in self._pending:  # a span that ended while the file was written
                self._enqueue(trace_id)

    def path_for(self, trace_id: int) -> Path | None:
        with self._idle:
            return self._written.get(trace_id)

    def error_for(self, trace_id: int) -> str | None:
        """Why the trace's file could not be written, if it could not."""
        with self._idle:
            return self._failed.get(trace_id)

    def take_errors(self) -> list[str]:
        """The distinct write failures not taken yet (each said once, by whoever takes it)."""
        with self._idle:
            errors, self._errors = self._errors, []
        return errors

    def wait_for(self, trace_id: int, timeout_s: float) -> bool:
        """Wait until this trace's file is written (or has failed), not for anyone else's."""
        with self._idle:
            return self._idle.wait_for(
                lambda: trace_id in self._written or trace_id in self._failed, timeout_s
            )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every trace whose root has ended is written (or has failed)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout_millis / 1000)

    def shutdown(self) -> None:
        """Write the traces still open (their root never ended) as they are, then stop."""
        with self._idle:
            for trace_id in list(self._pending):
                self._enqueue(trace_id)
        self.force_flush()
        if self._writer is not None:
            self._queue.put(None)


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
        return self.inner.export([redacted(span) for span in spans])

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


def redacted(span: ReadableSpan) -> ReadableSpan:
    """The span with every string redacted (attributes, events, status description)."""
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
