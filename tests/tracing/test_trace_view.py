"""`track-order trace`: the tree and the timeline of recorded trace files (the offline model's
and a run through LiteLLM's OpenAI provider), and the self-contained HTML page."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import ProviderDown, offline_models, run_cli

from order_tracking.agents.build import build_order_agents
from order_tracking.async_runner import track_order
from order_tracking.core.results import RunLimits
from order_tracking.tracing.view import load_trace, render_html, render_text

FIXTURES = Path(__file__).parent.parent / "fixtures"
OFFLINE = FIXTURES / "trace_offline_ORD-1001.json"  # OFFLINE_MODEL_LATENCY_S=0.2
OPENAI = FIXTURES / "trace_openai_ORD-1002.json"  # payment_agent on a model 0.4 s slower

OFFLINE_TREE = """\
workflow: order_tracking_asyncio (order ORD-1001)    0.586s
  agent: order_status_agent                          0.559s
    inference: offline rule-based, 223→12 tokens     0.202s
    tool: get_order_status                           0.001s
    inference: offline rule-based, 326→12 tokens     0.202s
  agent: shipping_agent                              0.559s
    inference: offline rule-based, 275→13 tokens     0.210s
    tool: get_shipping_details                       0.000s
    inference: offline rule-based, 360→15 tokens     0.206s
  agent: inventory_agent                             0.557s
    inference: offline rule-based, 271→12 tokens     0.213s
    tool: check_inventory                            0.001s
    inference: offline rule-based, 385→18 tokens     0.209s
  agent: payment_agent                               0.555s
    inference: offline rule-based, 252→13 tokens     0.216s
    tool: get_payment_status                         0.000s
    inference: offline rule-based, 318→10 tokens     0.212s
  agent: support_agent                               0.552s
    inference: offline rule-based, 553→38 tokens     0.219s
    tool: get_order_status                           0.000s
    tool: get_shipping_details                       0.002s
    tool: get_payment_status                         0.000s
    inference: offline rule-based, 807→36 tokens     0.215s
"""


def timeline(text: str) -> dict[str, tuple[int, int, str]]:
    """Agent -> (first column of its bar, bar length, duration) from the text timeline."""
    rows = {}
    for name, bar, seconds in re.findall(r"^(\w+) +\|(.{48})\| (\S+)$", text, re.M):
        start = len(bar) - len(bar.lstrip())
        rows[name] = (start, bar.count("█"), seconds)
    return rows


def test_the_offline_trace_shows_the_article_tree_with_models_tokens_and_times():
    text = render_text(load_trace(OFFLINE))
    assert text.startswith(
        f"Trace {OFFLINE}\n\n{OFFLINE_TREE}\nTimeline (0 → 0.59s, one bar per agent)\n"
    )
    assert text.endswith("\nwall 0.59s · slowest agent 0.56s · sum of agents 2.78s")


def test_the_timeline_shows_five_agents_overlapping():
    rows = timeline(render_text(load_trace(OFFLINE)))
    assert list(rows) == [
        "order_status_agent",
        "shipping_agent",
        "inventory_agent",
        "payment_agent",
        "support_agent",
    ]
    for start, length, _ in rows.values():
        assert start <= 2 and length >= 45  # all start at once and run the whole time


def test_a_real_provider_trace_names_the_provider_and_shows_the_slow_agent():
    text = render_text(load_trace(OPENAI))
    assert "workflow: order_tracking_asyncio (order ORD-1002)" in text
    assert text.count("inference: openai gpt-4o, 100→10 tokens") == 8
    assert text.count("inference: openai slow-0.4, 100→10 tokens") == 2
    rows = timeline(text)
    assert rows["payment_agent"][2] == "1.50s"
    others = [length for name, (_, length, _) in rows.items() if name != "payment_agent"]
    # The slow agent's bar reaches the end of the axis; the others stop about half-way.
    assert rows["payment_agent"][0] + rows["payment_agent"][1] == 48
    assert all(20 <= length <= 28 for length in others)
    assert text.endswith("wall 1.51s · slowest agent 1.50s · sum of agents 4.62s")


class _Checker(HTMLParser):
    """Well-formedness (every element closed, in order) and every external reference."""

    VOID = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.references: list[str] = []
        self.titles: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "href", "srcset", "action"} or (value and "url(" in value):
                self.references.append(f"{tag} {name}={value}")
            if name == "title":
                self.titles.append(value)
        if tag in {"script", "link", "iframe", "img"}:
            self.references.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"</{tag}> closes nothing open"

    def handle_data(self, data):
        self.texts.append(data)


@pytest.mark.parametrize("path", [OFFLINE, OPENAI])
def test_the_html_page_is_well_formed_and_self_contained(path):
    page = render_html(load_trace(path))
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert checker.references == []
    assert not re.search(r"@import|url\(|https?://", page)
    # One row per span of the tree, each with a positioned bar and a tooltip.
    assert page.count('class="bar"') == len(load_trace(path).walk())
    assert any(t.startswith("agent: payment_agent · ") for t in checker.titles)
    text = " ".join(checker.texts)
    assert "wall " in text and "slowest agent" in text and "sum of agents" in text


def test_cli_shows_the_newest_trace_and_writes_html(capsys, tmp_path, monkeypatch):
    traces = tmp_path / "traces"
    traces.mkdir()
    shutil.copy(OPENAI, traces / "older.json")
    newest = shutil.copy(OFFLINE, traces / "newer.json")
    monkeypatch.setenv("MONOCLE_TRACE_OUTPUT_PATH", str(traces))
    out_html = tmp_path / "trace.html"
    code, out, err = run_cli(capsys, "trace", "--html", str(out_html))
    assert (code, err) == (0, "")
    assert out.startswith(f"Trace {newest}\n\n{OFFLINE_TREE}")
    assert out.endswith(f"\nHTML written to: {out_html}\n")
    assert out_html.read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such trace file: "),
        ("[{", "is not valid JSON (is it still being written?)"),
        ("{}", "holds no Monocle spans"),
        ('[{"name": "x"}]', "span 0 has no context.span_id"),
    ],
)
def test_unreadable_traces_are_one_line_errors(capsys, tmp_path, content, message):
    path = tmp_path / "trace.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run_cli(capsys, "trace", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: ") and message in err and err.count("\n") == 1


def test_the_trace_folder_set_in_a_env_file_is_read_as_track_reads_it(
    capsys, tmp_path, monkeypatch, package_env
):
    folder = tmp_path / "kept-here"
    folder.mkdir()
    shutil.copy(OFFLINE, folder / OFFLINE.name)
    (tmp_path / ".env").write_text(f"MONOCLE_TRACE_OUTPUT_PATH={folder}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONOCLE_TRACE_OUTPUT_PATH", raising=False)
    try:
        code, out, err = run_cli(capsys, "trace")
    finally:  # load_dotenv writes os.environ directly: undo what it added
        os.environ.pop("MONOCLE_TRACE_OUTPUT_PATH", None)
    assert (code, err) == (0, "")
    assert out.startswith(f"Trace {folder / OFFLINE.name}\n\n{OFFLINE_TREE}")


def test_an_empty_trace_folder_says_how_to_make_one(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MONOCLE_TRACE_OUTPUT_PATH", str(tmp_path))
    code, _, err = run_cli(capsys, "trace")
    assert code == 2
    assert err == (
        f"track-order: error: no trace files in {tmp_path}/ (run `track-order ORD-1001` first)\n"
    )


async def test_a_fresh_trace_with_a_failing_agent_marks_the_failure(tracing):
    models = offline_models()
    agents = build_order_agents(
        lambda n: ProviderDown(model="down") if n == "shipping_agent" else models(n)
    )
    report = await track_order("ORD-1003", agents, tracing, limits=RunLimits())
    text = render_text(load_trace(report.trace_file))
    assert "workflow: order_tracking_asyncio (order ORD-1003)" in text
    (shipping,) = [line for line in text.splitlines() if line.startswith("  agent: shipping_agent")]
    assert shipping.startswith("  agent: shipping_agent (error) ")
    assert shipping.endswith("✗ payment provider is down")
    assert len(timeline(text)) == 5


def test_the_parts_of_a_trace_written_by_several_processes_are_shown_as_one(tmp_path):
    """An order on Temporal: the submitter's file holds the root, a worker's the rest. Shown
    from either file, the tree is the whole trace; a part that cannot be read is named, not
    fatal; a half-written ``.partial`` and another trace's files are not read."""
    spans = json.loads(OFFLINE.read_text())
    trace_id = spans[0]["context"]["trace_id"]
    stem = f"monocle_trace_order_tracking_asyncio_{trace_id}_2026-11-30_01.00.00"
    root = [s for s in spans if not s.get("parent_id")]
    (tmp_path / f"{stem}.json").write_text(json.dumps(root))
    (tmp_path / f"{stem}.host-1.json").write_text(json.dumps([s for s in spans if s not in root]))
    (tmp_path / f"{stem}.host-2.json").write_text("[\n{")  # a part cut short
    (tmp_path / f"{stem}.host-3.json.partial").write_text("[")
    other = f"monocle_trace_order_tracking_asyncio_{'0' * 32}_2026-11-30_01.00.00.json"
    shutil.copy(OFFLINE, tmp_path / other)
    for shown in (f"{stem}.json", f"{stem}.host-1.json"):
        trace = load_trace(tmp_path / shown)
        text = render_text(trace)
        assert OFFLINE_TREE in text
        assert [p.name for p in trace.parts] == [shown] + [
            n for n in (f"{stem}.json", f"{stem}.host-1.json") if n != shown
        ]
        assert len(trace.skipped) == 1 and "host-2.json is not valid JSON" in trace.skipped[0]
        assert "with 1 more part(s) of it from other processes" in text
        assert "not read: " in text


def test_a_hostile_folder_of_parts_is_refused_without_listing_it_all(tmp_path):
    from order_tracking.tracing.files import MAX_PARTS, TraceError

    trace_id = "ab" * 16
    for n in range(MAX_PARTS + 5):
        (tmp_path / f"monocle_trace_s_{trace_id}_t.p{n}.json").write_text("[]")
    with pytest.raises(TraceError, match=f"more than {MAX_PARTS} files share its trace id"):
        load_trace(tmp_path / f"monocle_trace_s_{trace_id}_t.p0.json")


def test_a_lone_surrogate_in_a_trace_file_is_shown_replaced(tmp_path):
    """A trace file is any bytes: JSON's "\\ud800" in a span's name or error made
    `track-order trace` end in a `UnicodeEncodeError` traceback with nothing shown."""
    import subprocess
    import sys

    span = {
        "name": "x\ud800",
        "context": {"span_id": "1", "trace_id": "ab"},
        "parent_id": None,
        "start_time": "2026-01-01T00:00:00Z",
        "end_time": "2026-01-01T00:00:01Z",
        "attributes": {"span.type": "workflow"},
        "status": {"status_code": "ERROR", "message": "bad\udc00"},
    }
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps([span]))  # ASCII: the surrogates as \u escapes
    render_text(load_trace(path)).encode("utf-8")
    render_html(load_trace(path)).encode("utf-8")
    track_order = str(Path(sys.executable).parent / "track-order")
    done = subprocess.run([track_order, "trace", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr[-300:]
