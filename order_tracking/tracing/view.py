"""Read a Monocle trace file and show where the time went: the span tree (workflow -> agent ->
tool / inference, with model, tokens and durations) and a timeline with one bar per agent on
a shared axis, so the overlap that makes wall time equal the slowest agent is visible.

Works on any Monocle trace file: the offline model's, a real provider's, a chat turn's.
Reading one (bounded, whatever it holds) is ``files.py``'s.
"""

from __future__ import annotations

import html
from pathlib import Path

from .files import Span, Trace, TraceError, clean, load_trace, newest_trace

__all__ = [
    "TraceError",
    "describe",
    "load_trace",
    "newest_trace",
    "render_html",
    "render_text",
    "write_html",
]

_TIMELINE_WIDTH = 48
_MAX_INDENT = 40  # levels drawn; a deeper (hostile) chain is not drawn further right


def describe(span: Span) -> str:
    """A span's label in the tree: what it is and, for inference, model and tokens."""
    kind = span.kind
    if kind == "workflow":
        order = span.attributes.get("order_id")
        return f"workflow: {span.entity}" + (f" (order {clean(order)})" if order else "")
    if kind == "agentic.invocation":
        notes = []
        if span.result and span.result.get("status", "ok") != "ok":
            notes.append(clean(span.result["status"], 40))
        retries = span.result.get("retries") if span.result else None
        if isinstance(retries, int) and not isinstance(retries, bool) and retries:
            notes.append(f"{retries} {'retry' if retries == 1 else 'retries'}")
        return f"agent: {span.entity}" + (f" ({', '.join(notes)})" if notes else "")
    if kind == "agentic.tool.invocation":
        return f"tool: {span.entity}"
    if kind == "agentic.mcp.invocation":  # a tool called on an MCP server (TOOLS_MCP_URL)
        return f"mcp tool: {span.entity}"
    if kind.startswith("inference"):
        provider = clean(span.attributes.get("entity.1.type") or "inference", 60).removeprefix(
            "inference."
        )
        model = clean(span.attributes.get("entity.2.name") or "?", 80)
        tokens = span.tokens()
        shown = f", {tokens[0]}→{tokens[1]} tokens" if tokens else ""
        return f"inference: {provider} {model}{shown}"
    if "temporalWorkflowID" in span.attributes:  # Temporal's, joining the trace's parts
        return f"temporal: {span.name}"
    attempt = span.attributes.get("attempt")
    if isinstance(attempt, int) and not isinstance(attempt, bool):  # an agent run on a worker
        return f"agent run: {span.name} (attempt {attempt})"
    return f"{kind or 'span'}: {span.name}"


def render_text(trace: Trace) -> str:
    """The tree, then the timeline, as plain text."""
    lines = [f"Trace {clean(trace.path, 400)}"]
    if len(trace.parts) > 1:  # a trace written by several processes (Temporal workers)
        lines.append(f"  with {len(trace.parts) - 1} more part(s) of it from other processes:")
        lines += [f"  {clean(part.name, 400)}" for part in trace.parts[1:]]
    lines += [f"  not read: {clean(reason, 400)}" for reason in trace.skipped]
    lines += [sampling_note(ratio) for ratio in _sample_ratios(trace)]
    lines.append("")
    rows = [("  " * min(depth, _MAX_INDENT) + describe(span), span) for depth, span in trace.walk()]
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


def _sample_ratios(trace: Trace) -> list[float]:
    """The share of orders traced when this one was, if its root says it was sampled."""
    ratios = {r.attributes.get("trace.sample_ratio") for r in trace.roots}
    return [r for r in ratios if isinstance(r, float) and 0 < r < 1][:1]


def sampling_note(ratio: float) -> str:
    """What a sampled trace's reader should know: the other orders have none."""
    return (
        f"  sampled: TRACE_SAMPLE_RATIO={ratio:g} keeps about 1 order's trace in "
        f"{1 / ratio:.3g}; the others were not written"
    )


_COLOURS = {
    "workflow": "#6b7280",
    "agentic.invocation": "#2563eb",
    "agentic.tool.invocation": "#16a34a",
    "inference": "#d97706",
    "agentic.mcp.invocation": "#0891b2",
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
            f'<div class="label" style="padding-left:{min(depth, _MAX_INDENT) * 16 + 6}px">'
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


def write_html(trace: Trace, path: Path) -> None:
    """The page into ``path``; a path that cannot be written is a ``TraceError``."""
    try:
        path.write_text(render_html(trace), encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"cannot write {path}: {exc.strerror or exc}") from None
