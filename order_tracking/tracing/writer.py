"""Trace files: a process's spans of each trace as one JSON file, written whole on a thread of
its own as the trace's parts end, and no span ever dropped (``TraceFiles``)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import socket
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from monocle_apptrace.exporters.base_exporter import serialize_span
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

__all__ = ["TraceFiles", "write_whole"]


def _resolve(done: asyncio.Future) -> None:
    if not done.done():
        done.set_result(None)


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
    """Spans as one JSON file per trace and process, each part of a trace written whole once
    it has ended, and no span ever dropped.

    A part is a span with no parent here (the trace's root, or a span whose parent is in
    another process) and everything under it. In one process a trace is usually one part. An
    order on Temporal is several: the submitting process holds the root, and each worker holds
    one part per workflow task and per agent run. A worker writes each part as soon as it
    ends; it never holds a part waiting for a root that another process holds. Spans wait in
    memory (only the parts in flight are held) until their part's root ends. Then a writer
    thread redacts them and adds them to the process's file for the trace. The file is
    written under a temporary name and renamed when complete, so a file that exists is
    complete, and so is every part in it: a process that dies (a worker killed with SIGKILL)
    loses only the parts it had not finished, never half a part. The parts of a trace that
    end while the writer is busy are added in one write.

    Names follow Monocle's (``monocle_trace_<service>_<trace id>_<time>.json``), with
    ``.<part>`` (host and process id) before ``.json`` when ``part`` is set. Processes that
    share a folder therefore never write the same file, and ``track-order trace`` merges the
    files of one trace. The spans are Monocle's JSON, one per line.

    Monocle's own file exporter appends each batch to an open file, so a reader can meet a
    half-written file. Behind OpenTelemetry's batch processor, spans past 2,048 queued are
    dropped, and thousands of orders cancelled at once exceed that. A write that fails (a
    full disk, a folder that cannot be made) leaves no file behind. It is recorded
    (:meth:`error_for`, :meth:`take_errors`) and never raised into a run.
    """

    _REMEMBERED = 4096  # outcomes kept for ``path_for``/``error_for`` and late spans
    _TEXTS_KEPT = 256  # files' texts kept for the parts still to come (~50 KB an order)

    def __init__(
        self,
        folder: Path,
        service: str,
        *,
        record: Callable[[ReadableSpan], dict[str, Any]] = serialize_span,
        write: Callable[[Path, str], None] = write_whole,
        part: str | None = None,
    ) -> None:
        self.folder, self.service = folder, service
        self._suffix = f".{part}" if part else ""
        self._record, self._write_file = record, write
        self._part_of: dict[int, int] = {}  # span in flight -> the root of its part
        self._pending: dict[int, dict[int, list[ReadableSpan]]] = {}  # trace -> part -> spans
        self._ready: dict[int, set[int]] = {}  # trace -> parts ended, not yet written
        self._written: OrderedDict[int, Path] = OrderedDict()
        self._texts: OrderedDict[int, str] = OrderedDict()  # writer thread only
        self._failed: OrderedDict[int, str] = OrderedDict()
        self._errors: list[str] = []  # distinct, not yet taken
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._queued: set[int] = set()
        self._busy: Counter[int] = Counter()  # traces queued or being written
        self._idle = threading.Condition()
        # Futures of event loops waiting for a trace's file (``written``), by trace.
        self._waiting: dict[int, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = {}
        self._writer: threading.Thread | None = None
        self._closed = False  # after shutdown: nothing more is written

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span_id, parent = span.context.span_id, span.parent
        with self._idle:
            if parent is None or parent.is_remote:
                self._part_of[span_id] = span_id
            else:  # a parent that has ended already: the span is a part of its own
                self._part_of[span_id] = self._part_of.get(parent.span_id, span_id)

    def on_end(self, span: ReadableSpan) -> None:
        span_id, trace_id = span.context.span_id, span.context.trace_id
        with self._idle:
            part = self._part_of.pop(span_id, span_id)
            self._pending.setdefault(trace_id, {}).setdefault(part, []).append(span)
            if part not in self._part_of:  # its part's root has ended (now, or before it)
                self._ready.setdefault(trace_id, set()).add(part)
                self._enqueue(trace_id)

    def _enqueue(self, trace_id: int) -> None:  # with self._idle held
        if trace_id in self._queued or self._closed:
            return
        self._queued.add(trace_id)
        self._busy[trace_id] += 1
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
                    self._busy[trace_id] -= 1
                    if not self._busy[trace_id]:
                        del self._busy[trace_id]
                        self._wake(trace_id)
                    self._idle.notify_all()

    def _wake(self, trace_id: int) -> None:  # with self._idle held
        """Resolve what event loops wait on for this trace (``written``), if it is done."""
        if trace_id in self._written or trace_id in self._failed:
            for loop, done in self._waiting.pop(trace_id, ()):
                loop.call_soon_threadsafe(_resolve, done)

    async def written(self, trace_id: int, timeout_s: float) -> bool:
        """``wait_for`` for an event loop: no thread waits (one per order used to, each woken
        by every write of every trace)."""
        loop = asyncio.get_running_loop()
        with self._idle:
            if trace_id not in self._busy and (
                trace_id in self._written or trace_id in self._failed
            ):
                return True
            done = loop.create_future()
            self._waiting.setdefault(trace_id, []).append((loop, done))
        try:
            await asyncio.wait_for(done, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._idle:
                waiters = self._waiting.get(trace_id, [])
                if (loop, done) in waiters:
                    waiters.remove((loop, done))
                    if not waiters:
                        del self._waiting[trace_id]

    def _take(self, trace_id: int) -> list[ReadableSpan]:  # with self._idle held
        self._queued.discard(trace_id)
        pending = self._pending.get(trace_id, {})
        spans = [s for part in self._ready.pop(trace_id, ()) for s in pending.pop(part, [])]
        if not pending:
            self._pending.pop(trace_id, None)
        return spans

    def _write(self, trace_id: int) -> None:
        with self._idle:
            spans = self._take(trace_id)
            path = self._written.get(trace_id)
        if not spans:
            return
        try:
            records = [self._record(span) for span in spans]
            text = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
            if path is None:
                first = min(span.start_time or 0 for span in spans)
                stamp = datetime.fromtimestamp(first / 1e9).strftime("%Y-%m-%d_%H.%M.%S")
                name = f"monocle_trace_{self.service}_{trace_id:032x}_{stamp}{self._suffix}.json"
                path = self.folder / name
            elif earlier := self._text_of(trace_id, path):  # the file is rewritten with it
                text = f"{earlier},\n{text}"
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_file(path, f"[\n{text}\n]\n")
            self._keep_text(trace_id, text)
        except Exception as exc:  # noqa: BLE001 - one trace's failure never stops the writer
            if isinstance(exc, OSError) and exc.strerror:
                reason = exc.strerror
            else:
                reason = f"{type(exc).__name__}: {exc}"
            self._remember(self._failed, trace_id, f"cannot write to {self.folder}/: {reason}")
            return
        self._remember(self._written, trace_id, path)

    def _text_of(self, trace_id: int, path: Path) -> str:
        """The spans already in the trace's file, as the text between its brackets: kept from
        the last write (no file read, no JSON decoded and encoded again per part), else read
        ("" if the file has gone)."""
        text = self._texts.pop(trace_id, None)
        if text is None:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return ""
            text = text.strip().removeprefix("[").removesuffix("]")
        return text.strip("\n")

    def _keep_text(self, trace_id: int, text: str) -> None:
        """Kept while more parts of the trace are in flight here (a worker's order)."""
        with self._idle:
            more = trace_id in self._pending
        if more:
            self._texts[trace_id] = text
            while len(self._texts) > self._TEXTS_KEPT:
                self._texts.popitem(last=False)

    def _remember(self, outcomes: OrderedDict[int, Any], trace_id: int, outcome: Any) -> None:
        with self._idle:
            if outcomes is self._written:  # written now: an earlier part's failure is over
                self._failed.pop(trace_id, None)
            outcomes[trace_id] = outcome
            while len(outcomes) > self._REMEMBERED:
                outcomes.popitem(last=False)
            if outcomes is self._failed and outcome not in self._errors:
                self._errors.append(outcome)

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
        """Wait until the parts of this trace that have ended are written (or have failed),
        not for anyone else's."""
        with self._idle:
            return self._idle.wait_for(
                lambda: (
                    trace_id not in self._busy
                    and (trace_id in self._written or trace_id in self._failed)
                ),
                timeout_s,
            )

    def settled(self, trace_id: int) -> bool:
        """Whether every part of this trace that has ended here is written (or has failed):
        true at once for a trace this process recorded nothing of (a span not sampled)."""
        with self._idle:
            return trace_id not in self._busy

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every part that has ended is written (or has failed)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout_millis / 1000)

    def shutdown(self) -> None:
        """Write the parts still open (their root never ended) as they are, then stop."""
        with self._idle:
            for trace_id, parts in self._pending.items():
                self._ready.setdefault(trace_id, set()).update(parts)
                self._enqueue(trace_id)
        self.force_flush()
        with self._idle:
            self._closed = True
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=10)


def trace_part() -> str:
    """This process in its trace files' names, host and process id (a worker writes only its
    part of each order's trace; workers sharing a folder must not write the same file)."""
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:40].strip("-") or "host"
    return f"{host}-{os.getpid()}"
