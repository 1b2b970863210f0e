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

from order_tracking.trace_export import TraceFiles, write_whole

RESOURCE = Resource({"service.name": "test"})  # one for all: building one per span is slow


def _span(trace_id: int, span_id: int, parent: int | None) -> ReadableSpan:
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))
    parent_context = (
        SpanContext(trace_id, parent, is_remote=False, trace_flags=TraceFlags(1))
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
        for child in range(2, children + 2):
            files.on_end(_span(trace, trace * 100 + child, parent=trace * 100 + 1))
        files.on_end(_span(trace, trace * 100 + 1, parent=None))
    assert files.force_flush(60_000)
    written = list(tmp_path.glob("*.json"))
    assert len(written) == traces
    assert {len(json.loads(p.read_text())) for p in written} == {children + 1}
    assert files.path_for(1) is not None and files.take_errors() == []
    files.shutdown()


def test_the_installed_pipeline_keeps_every_span_of_thousands_of_traces(tracing, trace_dir):
    """The same through the tracer provider the app installs, not the processor alone."""
    from opentelemetry import trace

    tracer = trace.get_tracer_provider().get_tracer("burst")
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
        files.on_end(_span(trace, trace * 10 + 2, parent=trace * 10 + 1))
        files.on_end(_span(trace, trace * 10 + 1, parent=None))
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
