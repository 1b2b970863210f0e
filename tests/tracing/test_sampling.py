"""``TRACE_SAMPLE_RATIO``: a share of orders traced, decided at each order's root and followed
by every part of its trace; an order left out records no span at all, and what reports on it
(the text and JSON reports, ``result``, ``track-order trace``) says it was not sampled."""

from __future__ import annotations

import json
import random
from dataclasses import replace

from helpers import run_cli
from opentelemetry import context as otel_context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from order_tracking.async_runner import track_order
from order_tracking.core.report import render_footer
from order_tracking.core.results import RunLimits
from order_tracking.tracing.files import load_trace
from order_tracking.tracing.view import render_text


def _files(trace_dir):
    return set(trace_dir.glob("*.json"))


async def test_an_order_left_out_records_no_span_and_says_so(tracing, trace_dir, models):
    from order_tracking.agents.build import build_order_agents

    agents = build_order_agents(models)
    before = _files(trace_dir)
    tracing.flush()
    left_out = replace(tracing, sample_ratio=0.0)
    report = await track_order("ORD-1001", agents, left_out, limits=RunLimits())
    tracing.flush()
    assert all(r.status == "ok" for r in report.results)  # it runs the same
    assert (report.trace_file, report.trace_error, report.trace_sampled) == (None, None, False)
    assert _files(trace_dir) == before
    assert not tracing.files._pending  # no span waits for a root that never comes
    assert render_footer(report).endswith(
        "Traces written to: (not sampled: TRACE_SAMPLE_RATIO keeps a share of orders' traces)"
    )
    kept = await track_order("ORD-1001", agents, tracing, limits=RunLimits())
    assert kept.trace_sampled and kept.trace_file is not None


async def test_the_ratio_keeps_that_share_and_each_kept_trace_is_whole(tracing, models):
    from order_tracking.agents.build import build_order_agents

    agents = build_order_agents(models)
    half = replace(tracing, sample_ratio=0.5, rng=random.Random(7))
    reports = [await track_order("ORD-1002", agents, half, limits=RunLimits()) for _ in range(24)]
    kept = [r for r in reports if r.trace_sampled]
    assert 4 <= len(kept) <= 20  # seeded: the same every run (9 of 24)
    for report in kept:
        spans = load_trace(report.trace_file)
        assert len(spans.agents()) == 5 and len(spans.roots) == 1
        assert spans.roots[0].attributes["trace.sample_ratio"] == 0.5
        assert "TRACE_SAMPLE_RATIO=0.5 keeps about 1 order's trace in 2" in render_text(spans)
    assert all(r.trace_file is None for r in reports if not r.trace_sampled)


def test_a_part_follows_the_choice_its_parent_made(tracing):
    """Parent-based: a Temporal worker's part of an order runs under the order's context."""
    for flags, expected in ((TraceFlags.DEFAULT, None), (TraceFlags.SAMPLED, str)):
        parent = NonRecordingSpan(SpanContext(0xABC, 0xDEF, True, TraceFlags(flags)))
        token = otel_context.attach(set_span_in_context(parent))
        try:
            for ratio in (0.0, 1.0):  # the part's own ratio does not matter
                with replace(tracing, sample_ratio=ratio).trace("part", {}) as trace_id:
                    if expected is None:
                        assert trace_id is None
                    else:
                        assert trace_id == format(0xABC, "032x")
        finally:
            otel_context.detach(token)


def test_the_command_line_says_what_was_not_sampled(capsys, cli_env, monkeypatch, trace_dir):
    monkeypatch.setenv("TRACE_SAMPLE_RATIO", "0")
    code, out, _ = run_cli(capsys, "--json", "ORD-1003")
    order = json.loads(out)
    assert code == 0 and order["trace_sampled"] is False and order["trace_file"] is None
    empty = trace_dir / "empty"
    empty.mkdir()
    monkeypatch.setenv("MONOCLE_TRACE_OUTPUT_PATH", str(empty))
    assert run_cli(capsys, "trace") == (
        2,
        "",
        (
            f"track-order: error: no trace files in {empty}/ (run `track-order ORD-1001` first); "
            "TRACE_SAMPLE_RATIO=0 keeps only that share of orders' traces\n"
        ),
    )


def test_a_bad_ratio_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setenv("TRACE_SAMPLE_RATIO", "1.5")
    assert run_cli(capsys, "ORD-1001") == (
        2,
        "",
        "track-order: error: TRACE_SAMPLE_RATIO must be at most 1, got '1.5'\n",
    )


def test_result_says_an_order_submitted_unsampled_was_not_sampled(
    capsys, temporal_env, monkeypatch
):
    monkeypatch.setenv("TRACE_SAMPLE_RATIO", "0")
    code, out, _ = run_cli(capsys, "submit", "ORD-1002", "--key", "unsampled-1", "--json")
    assert code == 0 and json.loads(out)["trace_sampled"] is False
    monkeypatch.delenv("TRACE_SAMPLE_RATIO")
    code, out, _ = run_cli(capsys, "result", "track-order/ORD-1002/unsampled-1")
    assert code == 0
    assert out.rstrip().endswith(
        "Traces written to: (not sampled: TRACE_SAMPLE_RATIO keeps a share of orders' traces)"
    )
