"""`track-order trace` reads files from strangers: whatever a file holds, the answer is a tree
or one line and exit 2, in bounded time and memory, and nothing a file says reaches the
terminal as a control sequence."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_tracking.tracing.files import TraceError
from order_tracking.tracing.view import load_trace, render_html, render_text

FIXTURE = Path(__file__).parent.parent / "fixtures" / "trace_offline_ORD-1001.json"
T0 = "2024-01-01T00:00:00.000000Z"
T1 = "2024-01-01T00:00:01.000000Z"


def span(span_id, parent=None, **fields):
    return {
        "name": fields.pop("name", "span"),
        "context": {"trace_id": "0x1", "span_id": span_id},
        "parent_id": parent,
        "start_time": fields.pop("start_time", T0),
        "end_time": fields.pop("end_time", T1),
        "status": fields.pop("status", {"status_code": "OK"}),
        "attributes": fields.pop("attributes", {"span.type": "agentic.invocation"}),
        "events": fields.pop("events", []),
        **fields,
    }


def show(capsys, tmp_path, content: bytes | str) -> tuple[int, str, str]:
    path = tmp_path / "trace.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return run_cli(capsys, "trace", str(path))


def no_control_characters(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cf") for c in text.replace("\n", ""))


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000 + "]" * 100_000, "is nested too deeply to be a trace file"),
        ("[\xe9t\xe9]".encode("latin-1"), "is not UTF-8 text"),
        (b"\x00\x01\x02\xff", "is not UTF-8 text"),
        (json.dumps([span("a", start_time=1704067200)]), "span 0: start_time is not a time"),
        (json.dumps([span("a", start_time="0001-01-01T00:00:00")]), "start_time is not a time"),
        (json.dumps([{"context": "a"}]), "span 0 has no context.span_id"),
        (json.dumps([1, 2]), "span 0 is not an object"),
    ],
)
def test_a_hostile_file_is_one_line_and_exit_2(capsys, tmp_path, content, message):
    code, out, err = show(capsys, tmp_path, content)
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: ") and message in err and err.count("\n") == 1


def test_an_endless_file_is_refused_not_read_forever(capsys):
    code, out, err = run_cli(capsys, "trace", "/dev/zero")
    assert (code, out) == (2, "")
    assert err == "track-order: error: /dev/zero is larger than 64 MiB: not a trace file\n"


def test_cycles_self_parents_and_deep_chains_are_drawn(tmp_path):
    spans = [
        span("self", parent="self", name="selfish"),
        span("a", parent="b", name="ring-a"),
        span("b", parent="a", name="ring-b"),
        span("c0", name="chain"),
        *(span(f"c{i}", parent=f"c{i - 1}") for i in range(1, 5000)),
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(spans))
    trace = load_trace(path)
    text = render_text(trace)
    assert len(trace.walk()) == len(spans)  # every span once
    assert max(len(line) for line in text.splitlines()) < 400  # indentation is capped
    assert render_html(trace).startswith("<!doctype html>")


def test_odd_shapes_inside_spans_are_tolerated(tmp_path):
    spans = [
        span("w", attributes={"span.type": "workflow", "order_id": "ORD-1"}),
        span("i", "w", attributes=["not", "a", "dict"], events="not a list"),
        span(
            "m",
            "w",
            attributes={"span.type": "inference", "entity.2.name": "gpt"},
            events=[{"name": "metadata", "attributes": {"prompt_tokens": "many"}}],
        ),
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(spans))
    text = render_text(load_trace(path))
    assert "inference: inference gpt, 0→0 tokens" in text


def test_escape_sequences_in_a_span_never_reach_the_terminal(capsys, tmp_path):
    evil = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
    spans = [
        span("w", attributes={"span.type": "workflow", "order_id": evil}, name=evil),
        span("a", "w", attributes={"span.type": "agentic.invocation", "entity.1.name": evil}),
        span("t", "a", status={"status_code": "ERROR", "message": evil}),
    ]
    code, out, err = show(capsys, tmp_path, json.dumps(spans))
    assert code == 0 and err == ""
    assert no_control_characters(out) and "pwned" in out


def test_an_html_file_that_cannot_be_written_is_one_line_and_nothing_printed(capsys, tmp_path):
    for target in (tmp_path / "missing" / "t.html", tmp_path):  # no folder; a folder
        code, out, err = run_cli(capsys, "trace", str(FIXTURE), "--html", str(target))
        assert (code, out) == (2, "")
        assert err.startswith(f"track-order: error: cannot write {target}: ")
        assert err.count("\n") == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
SPAN_IDS = st.sampled_from(["a", "b", "c", "d", ""])
# Valid ISO times, some out of range for a timestamp (year 1, year 9999 with an offset).
TIMES = st.datetimes(timezones=st.none() | st.timezones()).map(lambda t: t.isoformat())
SPANS = st.lists(
    st.fixed_dictionaries(
        {
            "context": st.one_of(JSON, st.fixed_dictionaries({"span_id": SPAN_IDS})),
            "parent_id": st.one_of(SPAN_IDS, st.none(), JSON),
            "name": st.one_of(st.text(max_size=30), JSON),
            "start_time": st.one_of(st.just(T0), TIMES, JSON),
            "end_time": st.one_of(st.just(T1), TIMES, JSON),
            "status": JSON,
            "attributes": st.one_of(
                JSON,
                st.dictionaries(
                    st.sampled_from(["span.type", "entity.1.name", "entity.2.name", "order_id"]),
                    st.one_of(
                        st.sampled_from(["workflow", "agentic.invocation", "inference"]), JSON
                    ),
                ),
            ),
            "events": st.one_of(
                JSON, st.lists(st.fixed_dictionaries({"name": JSON, "attributes": JSON}))
            ),
        }
    ),
    max_size=8,
)


@settings(
    max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(JSON, SPANS))
def test_any_json_gives_a_tree_or_one_clear_error(tmp_path, content):
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(content))
    try:
        trace = load_trace(path)
    except TraceError as error:
        assert "\n" not in str(error)
        return
    text = render_text(trace)
    assert no_control_characters(text)
    assert render_html(trace).startswith("<!doctype html>")
