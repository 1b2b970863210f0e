"""Trace files: never a span dropped however many traces close at once, never a half-written
file, and a write that fails (a full disk, a folder that cannot be made) said once, plainly,
without touching the answers or the exit code."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

from helpers import EXPECTED_BODY, TRACK_ORDER
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from order_tracking.tracing.writer import TraceFiles, write_whole

RESOURCE = Resource({"service.name": "test"})  # one for all: building one per span is slow


def _span(trace_id: int, span_id: int, parent: int | None, *, remote: bool = False) -> ReadableSpan:
    """A span; ``remote``: its parent is in another process."""
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))
    parent_context = (
        SpanContext(trace_id, parent, is_remote=remote, trace_flags=TraceFlags(1))
        if parent
        else None
    )
    attributes = {"monocle_apptrace.version": "test"}
    if parent is None:
        attributes["span.type"] = "workflow"
    return ReadableSpan(
        resource=RESOURCE,
        name="workflow" if parent is None else "agent",
        context=context,
        parent=parent_context,
        attributes=attributes,
        start_time=1_700_000_000_000_000_000 + span_id,
        end_time=1_700_000_000_000_000_000 + span_id + 1,
    )


def test_the_trace_files_hold_every_span_of_traces_closing_at_once(tmp_path):
    """The processor alone: spans held per trace, each trace written whole once its root
    ends, nothing lost however many arrive at once (the pipeline test below is the one that
    fails behind a bounded queue)."""
    files = TraceFiles(tmp_path, "t")
    traces, children = 3000, 9
    for trace in range(1, traces + 1):
        root = _span(trace, trace * 100 + 1, parent=None)
        files.on_start(root)
        for child in range(2, children + 2):
            span = _span(trace, trace * 100 + child, parent=trace * 100 + 1)
            files.on_start(span)
            files.on_end(span)
        files.on_end(root)
    assert files.force_flush(60_000)
    written = list(tmp_path.glob("*.json"))
    assert len(written) == traces
    assert {len(json.loads(p.read_text())) for p in written} == {children + 1}
    assert files.path_for(1) is not None and files.take_errors() == []
    files.shutdown()


def test_the_installed_pipeline_keeps_every_span_of_thousands_of_traces(tracing, trace_dir):
    """The same through the tracer provider the app installs, not the processor alone."""
    from opentelemetry import trace

    from order_tracking.tracing.export import MONOCLE_SCOPE

    tracer = trace.get_tracer_provider().get_tracer(MONOCLE_SCOPE)
    roots = []
    for index in range(2500):
        root = tracer.start_span(
            "workflow",
            attributes={"monocle_apptrace.version": "t", "span.type": "workflow", "n": index},
        )
        context = trace.set_span_in_context(root)
        for _ in range(4):
            tracer.start_span(
                "agent", context=context, attributes={"monocle_apptrace.version": "t"}
            ).end()
        roots.append(root)
    for root in roots:  # all at once, as when a batch is cancelled
        root.end()
    tracing.flush(60)
    paths = [tracing.file_for(format(r.get_span_context().trace_id, "032x")) for r in roots]
    assert all(paths)
    assert {len(json.loads(p.read_text())) for p in paths} == {5}


def _run(files: TraceFiles, *spans: ReadableSpan) -> None:
    """Start the spans in order, end them in reverse (children before their parents)."""
    for span in spans:
        files.on_start(span)
    for span in reversed(spans):
        files.on_end(span)


def _names(path: Path) -> list[str]:
    return [record["context"]["span_id"] for record in json.loads(path.read_text())]


def test_a_part_under_a_remote_parent_is_written_when_it_ends_not_at_the_root(tmp_path):
    """A worker's agent run (its parent in the submitting process) is written when it ends:
    the worker never sees the root, and must not hold the run until it exits."""
    files = TraceFiles(tmp_path, "t", part="host-1")
    _run(files, _span(7, 0x10, parent=0x1, remote=True), _span(7, 0x11, parent=0x10))
    assert files.wait_for(7, 10)
    path = files.path_for(7)
    assert path is not None and path.name.endswith(".host-1.json")
    assert _names(path) == ["0000000000000011", "0000000000000010"]
    files.shutdown()


def test_a_part_is_written_whole_never_with_half_of_another(tmp_path):
    """Two agent runs of one order in one worker: when the first ends, the second's finished
    spans stay in memory until the second ends. A worker killed between the two leaves the
    first run whole and nothing of the second (no span whose parent is lost)."""
    files = TraceFiles(tmp_path, "t", part="host-1")
    first, second = _span(7, 0x10, 0x1, remote=True), _span(7, 0x20, 0x1, remote=True)
    files.on_start(first)
    files.on_start(second)
    inner = _span(7, 0x21, parent=0x20)
    files.on_start(inner)
    files.on_end(inner)  # the second run's model call ends...
    files.on_end(first)  # ...then the first run ends
    assert files.wait_for(7, 10)
    assert _names(files.path_for(7)) == ["0000000000000010"]
    files.on_end(second)
    assert files.wait_for(7, 10)
    assert sorted(_names(files.path_for(7))) == [
        "0000000000000010",
        "0000000000000020",
        "0000000000000021",
    ]
    files.shutdown()


def test_waiting_for_a_trace_waits_for_its_root_part_too(tmp_path):
    """Client and worker in one process: the worker's part is written first; waiting after
    the root ends returns only once the root is in the file."""
    files = TraceFiles(tmp_path, "t")
    root = _span(7, 0x1, parent=None)
    files.on_start(root)
    _run(files, _span(7, 0x10, parent=0x1, remote=True))
    assert files.wait_for(7, 10)
    files.on_end(root)
    assert files.wait_for(7, 10)
    assert sorted(_names(files.path_for(7))) == ["0000000000000001", "0000000000000010"]
    files.shutdown()


def test_a_span_that_ends_after_its_part_is_added_to_the_file(tmp_path):
    files = TraceFiles(tmp_path, "t")
    root, late = _span(7, 0x1, parent=None), _span(7, 0x2, parent=0x1)
    files.on_start(root)
    files.on_start(late)
    files.on_end(root)
    assert files.wait_for(7, 10)
    files.on_end(late)
    assert files.force_flush(10_000)
    assert sorted(_names(files.path_for(7))) == ["0000000000000001", "0000000000000002"]
    files.shutdown()


def test_the_installed_pipeline_writes_parts_whole(tracing):
    """The same through the tracer provider the app installs: Monocle's set-up replaces every
    processor's ``on_start``, which would hide the starts the parts are made from."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan

    from order_tracking.tracing.export import MONOCLE_SCOPE

    tracer = trace.get_tracer_provider().get_tracer(MONOCLE_SCOPE)
    remote = SpanContext(0xABC, 0x1, is_remote=True, trace_flags=TraceFlags(1))
    submit = trace.set_span_in_context(NonRecordingSpan(remote))
    first, second = tracer.start_span("first", submit), tracer.start_span("second", submit)
    tracer.start_span("inside-second", trace.set_span_in_context(second)).end()
    first.end()
    tracing.flush()
    trace_id = format(0xABC, "032x")
    assert tracing.file_for(trace_id) is not None
    names = [r["name"] for r in json.loads(tracing.file_for(trace_id).read_text())]
    assert names == ["first"]
    second.end()
    tracing.flush()
    names = [r["name"] for r in json.loads(tracing.file_for(trace_id).read_text())]
    assert sorted(names) == ["first", "inside-second", "second"]


def test_parts_written_after_the_file_was_removed_start_it_again(tmp_path):
    files = TraceFiles(tmp_path, "t", part="w")
    _run(files, _span(7, 0x10, 0x1, remote=True))
    assert files.wait_for(7, 10)
    files.path_for(7).unlink()  # someone cleaned the folder
    _run(files, _span(7, 0x20, 0x1, remote=True))
    assert files.wait_for(7, 10)
    assert _names(files.path_for(7)) == ["0000000000000020"] and files.take_errors() == []
    files.shutdown()


def test_a_file_that_cannot_be_written_whole_leaves_nothing_behind(tmp_path):
    target = tmp_path / "trace.json"
    try:
        write_whole(target, "[\n\udc80\n]")  # cannot be encoded: fails mid-write
    except ValueError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected the write to fail")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_recorded_once_and_never_raised(tmp_path):
    def full_disk(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    files = TraceFiles(tmp_path / "traces", "t", write=full_disk)
    for trace in (1, 2):
        _run(
            files,
            _span(trace, trace * 10 + 1, parent=None),
            _span(trace, trace * 10 + 2, trace * 10 + 1),
        )
    assert files.force_flush(10_000)
    reason = f"cannot write to {tmp_path / 'traces'}/: No space left on device"
    assert files.path_for(1) is None and files.error_for(1) == files.error_for(2) == reason
    assert files.take_errors() == [reason]  # once, for both traces
    assert files.take_errors() == []
    files.shutdown()


def test_an_unusable_trace_folder_gets_one_warning_and_changes_nothing_else(tmp_path):
    """The real command: the answers, the exit code of the run, one line saying where and
    why, and no temporary file anywhere."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(blocker / "traces"))
    proc = subprocess.run(
        [TRACK_ORDER, "ORD-1001"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    reason = f"cannot write to {blocker / 'traces'}/: Not a directory"
    assert proc.returncode == 0
    assert proc.stdout.startswith(EXPECTED_BODY)
    assert proc.stdout.endswith(f"Traces written to: (not written: {reason})\n")
    assert proc.stderr == f"Warning: trace files were not written ({reason}).\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["not-a-folder"]


def test_settled_needs_no_file_for_a_trace_recorded_nowhere_here(tmp_path):
    """A worker waits for its parts before reporting a run; for a trace it has no part of (a
    span not sampled) there is nothing to wait for."""
    files = TraceFiles(tmp_path, "t", part="w")
    assert files.settled(99)
    _run(files, _span(7, 0x10, 0x1, remote=True))
    assert files.wait_for(7, 10) and files.settled(7)
    files.shutdown()


def test_spans_after_shutdown_never_leave_a_flush_waiting(tmp_path):
    files = TraceFiles(tmp_path, "t")
    _run(files, _span(7, 0x1, parent=None))
    files.shutdown()
    _run(files, _span(8, 0x2, parent=None))  # a span ended by a thread still running
    assert files.force_flush(1000) and files.settled(8)


async def test_an_event_loop_waits_for_a_trace_file_without_a_thread(tmp_path):
    """``written``: the writer thread tells the loop; a trace never written times out."""
    import asyncio
    import threading

    files = TraceFiles(tmp_path, "t")
    root = _span(7, 0x1, parent=None)
    files.on_start(root)
    threads = threading.active_count()
    waiting = asyncio.create_task(files.written(7, 10))
    await asyncio.sleep(0.05)
    assert not waiting.done() and threading.active_count() == threads  # nothing written yet
    files.on_end(root)
    assert await waiting and files.path_for(7) is not None
    assert await files.written(7, 10)  # already written: at once
    assert not await files.written(8, 0.05)  # nothing of trace 8 ever ends here
    assert not files._waiting  # no waiter left behind
    files.shutdown()
