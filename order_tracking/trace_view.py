"""Read a Monocle trace file and show where the time went: the span tree (workflow -> agent ->
tool / inference, with model, tokens and durations) and a timeline with one bar per agent on
a shared axis, so the overlap that makes wall time equal the slowest agent is visible.

Works on any Monocle trace file: the offline model's, a real provider's, a chat turn's.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

_TIMELINE_WIDTH = 48
# Runner "turn" spans only wrap an agent: the tree is easier to read without them.
_COLLAPSED = {"agentic.turn"}


class TraceError(Exception):
    """The trace cannot be shown; the message says why."""


@dataclass
class Span:
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    start: float
    end: float
    error: str | None
    children: list[Span] = field(default_factory=list)
    # For an agent span: the runner's ``agent.result`` event (status, tokens, retries).
    result: dict[str, Any] | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def entity(self) -> str:
        return str(self.attributes.get("entity.1.name") or self.name)

    def tokens(self) -> tuple[int, int] | None:
        for event in self.events:
            if event.get("name") == "metadata":
                attrs = event.get("attributes") or {}
                if "prompt_tokens" in attrs or "completion_tokens" in attrs:
                    return int(attrs.get("prompt_tokens") or 0), int(
                        attrs.get("completion_tokens") or 0
                    )
        return None


@dataclass
class Trace:
    path: Path
    roots: list[Span]
    start: float
    end: float

    def walk(self) -> list[tuple[int, Span]]:
        """Spans depth-first with their depth, turn spans folded into their parent."""
        out: list[tuple[int, Span]] = []

        def visit(span: Span, depth: int) -> None:
            if span.kind in _COLLAPSED:
                for child in span.children:
                    visit(child, depth)
                return
            out.append((depth, span))
            for child in span.children:
                visit(child, depth + 1)

        for root in self.roots:
            visit(root, 0)
        return out

    def agents(self) -> list[Span]:
        return [s for _, s in self.walk() if s.kind == "agentic.invocation"]


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _error(status: dict[str, Any]) -> str | None:
    if status.get("status_code") != "ERROR":
        return None
    # Monocle writes the reason as "message"; OpenTelemetry's own JSON calls it "description".
    return str(status.get("message") or status.get("description") or "error")


def newest_trace(folder: Path) -> Path:
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise TraceError(f"no trace files in {folder}/ (run `track-order ORD-1001` first)")
    return files[-1]


def load_trace(path: Path) -> Trace:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TraceError(f"no such trace file: {path}") from None
    except json.JSONDecodeError:
        raise TraceError(f"{path} is not valid JSON (is it still being written?)") from None
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        raise TraceError(f"{path} holds no Monocle spans")
    try:
        spans = {
            s["context"]["span_id"]: Span(
                span_id=s["context"]["span_id"],
                parent_id=s.get("parent_id"),
                name=s.get("name", ""),
                kind=str((s.get("attributes") or {}).get("span.type") or ""),
                attributes=s.get("attributes") or {},
                events=s.get("events") or [],
                start=_time(s["start_time"]),
                end=_time(s["end_time"]),
                error=_error(s.get("status") or {}),
            )
            for s in raw
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"{path} holds spans in an unexpected shape ({exc})") from None
    results = {
        event["attributes"].get("agent"): event["attributes"]
        for span in spans.values()
        for event in span.events
        if event.get("name") == "agent.result" and isinstance(event.get("attributes"), dict)
    }
    roots = []
    for span in spans.values():
        if span.kind == "agentic.invocation":
            span.result = results.get(span.entity)
        parent = spans.get(span.parent_id or "")
        (parent.children if parent else roots).append(span)
    for span in spans.values():
        span.children.sort(key=lambda s: s.start)
    roots.sort(key=lambda s: s.start)
    start = min(s.start for s in spans.values())
    end = max(s.end for s in spans.values())
    return Trace(path, roots, start, end)


def describe(span: Span) -> str:
    """A span's label in the tree: what it is and, for inference, model and tokens."""
    kind = span.kind
    if kind == "workflow":
        order = span.attributes.get("order_id")
        return f"workflow: {span.entity}" + (f" (order {order})" if order else "")
    if kind == "agentic.invocation":
        notes = []
        if span.result and span.result.get("status", "ok") != "ok":
            notes.append(str(span.result["status"]))
        if span.result and span.result.get("retries"):
            retries = int(span.result["retries"])
            notes.append(f"{retries} {'retry' if retries == 1 else 'retries'}")
        return f"agent: {span.entity}" + (f" ({', '.join(notes)})" if notes else "")
    if kind == "agentic.tool.invocation":
        return f"tool: {span.entity}"
    if kind.startswith("inference"):
        provider = str(span.attributes.get("entity.1.type") or "inference").removeprefix(
            "inference."
        )
        model = span.attributes.get("entity.2.name") or "?"
        tokens = span.tokens()
        shown = f", {tokens[0]}→{tokens[1]} tokens" if tokens else ""
        return f"inference: {provider} {model}{shown}"
    return f"{kind or 'span'}: {span.name}"


def render_text(trace: Trace) -> str:
    """The tree, then the timeline, as plain text."""
    lines = [f"Trace {trace.path}", ""]
    rows = [("  " * depth + describe(span), span) for depth, span in trace.walk()]
    width = max(len(label) for label, _ in rows)
    for label, span in rows:
        flag = "  ✗ " + span.error.splitlines()[0][:80] if span.error else ""
        lines.append(f"{label.ljust(width)}  {span.duration:7.3f}s{flag}")
    agents = trace.agents()
    if agents:
        total = max(trace.end - trace.start, 1e-9)
        lines += ["", f"Timeline (0 → {total:.2f}s, one bar per agent)"]
        name_width = max(len(a.entity) for a in agents)
        for agent in agents:
            left = round((agent.start - trace.start) / total * _TIMELINE_WIDTH)
            size = max(1, round(agent.duration / total * _TIMELINE_WIDTH))
            bar = " " * left + "█" * min(size, _TIMELINE_WIDTH - left)
            lines.append(
                f"{agent.entity.ljust(name_width)} |{bar.ljust(_TIMELINE_WIDTH)}| "
                f"{agent.duration:.2f}s"
            )
        slowest = max(a.duration for a in agents)
        summed = sum(a.duration for a in agents)
        lines.append(
            f"wall {total:.2f}s · slowest agent {slowest:.2f}s · sum of agents {summed:.2f}s"
        )
    return "\n".join(lines)


_COLOURS = {
    "workflow": "#6b7280",
    "agentic.invocation": "#2563eb",
    "agentic.tool.invocation": "#16a34a",
    "inference": "#d97706",
}


def _colour(kind: str) -> str:
    return _COLOURS.get(kind) or ("#d97706" if kind.startswith("inference") else "#9ca3af")


def render_html(trace: Trace) -> str:
    """A self-contained page (no network assets): the tree as a waterfall chart."""
    total = max(trace.end - trace.start, 1e-9)
    rows = []
    for depth, span in trace.walk():
        left = (span.start - trace.start) / total * 100
        width = max(span.duration / total * 100, 0.3)
        title = f"{describe(span)} · {span.duration:.3f}s" + (
            f" · error: {span.error}" if span.error else ""
        )
        rows.append(
            f'<div class="row{" err" if span.error else ""}" title="{html.escape(title)}">'
            f'<div class="label" style="padding-left:{depth * 16 + 6}px">'
            f"{html.escape(describe(span))}</div>"
            f'<div class="lane"><div class="bar" style="left:{left:.3f}%;width:{width:.3f}%;'
            f'background:{_colour(span.kind)}"></div></div>'
            f'<div class="dur">{span.duration:.3f}s</div></div>'
        )
    agents = trace.agents()
    summary = (
        f"wall {total:.2f}s · slowest agent {max(a.duration for a in agents):.2f}s · "
        f"sum of agents {sum(a.duration for a in agents):.2f}s"
        if agents
        else f"wall {total:.2f}s"
    )
    ticks = "".join(f'<span style="left:{i * 25}%">{total * i / 4:.2f}s</span>' for i in range(5))
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{name}</span>'
        for name, colour in (
            ("workflow", _COLOURS["workflow"]),
            ("agent", _COLOURS["agentic.invocation"]),
            ("tool", _COLOURS["agentic.tool.invocation"]),
            ("inference", _COLOURS["inference"]),
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Trace {html.escape(trace.path.name)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #111827; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
.meta {{ color: #4b5563; margin-bottom: 16px; }}
.legend span {{ margin-right: 14px; }} .legend i {{ display: inline-block; width: 10px;
  height: 10px; margin-right: 4px; border-radius: 2px; }}
.chart {{ border: 1px solid #e5e7eb; border-radius: 6px; overflow: hidden; }}
.row {{ display: grid; grid-template-columns: 380px 1fr 80px; align-items: center;
  border-top: 1px solid #f3f4f6; min-height: 24px; }}
.row:hover {{ background: #f9fafb; }} .row.err .label {{ color: #b91c1c; }}
.label {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: 13px; }}
.lane {{ position: relative; height: 14px; margin: 0 8px; }}
.bar {{ position: absolute; top: 0; height: 14px; border-radius: 3px; min-width: 2px; }}
.dur {{ text-align: right; padding-right: 8px; font-variant-numeric: tabular-nums;
  color: #374151; font-size: 12px; }}
.axis {{ position: relative; height: 18px; margin: 0 88px 0 388px; color: #6b7280;
  font-size: 11px; }}
.axis span {{ position: absolute; transform: translateX(-50%); }}
</style></head><body>
<h1>Trace {html.escape(trace.path.name)}</h1>
<div class="meta">{html.escape(summary)}</div>
<div class="legend">{legend}</div>
<div class="axis">{ticks}</div>
<div class="chart">
{chr(10).join(rows)}
</div>
</body></html>
"""
