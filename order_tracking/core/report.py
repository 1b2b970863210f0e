"""How results are shown: the article's text report, streamed sections, the batch summary
table, and the JSON schema shared by ``--json`` and the HTTP service. What a peer said (an
answer, an error) passes the way out (``outbound``) here: redacted, control characters
escaped, and unable to forge a section, a status or the footer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import outbound
from .results import AgentResult, BatchSummary, OrderReport


def display_path(path: Path | None) -> str | None:
    """A trace path relative to the working directory when it is under it, as the article
    prints it."""
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def render_section(result: AgentResult, order_id: str | None = None) -> str:
    """One agent's section. A section that is not a plain answer starts with its status in
    capitals (UNVERIFIED, ERROR, TIMEOUT, BUDGET, CANCELLED, DEGRADED, UNAVAILABLE) and the
    reason; an unverified, degraded or unavailable section still shows its answer.
    ``order_id`` labels it when several orders interleave."""
    label = f"{order_id} · {result.agent}" if order_id else result.agent
    lines = [f"[{outbound.line(label)}]"]
    if not result.ok:
        lines.append(f"{result.status.upper()}: {outbound.line(str(result.error))}")
    if result.text:
        lines.append(outbound.block(result.text))
    return "\n".join(lines)


def render_footer(report: OrderReport) -> str:
    if report.trace_file is not None:
        trace = outbound.line(str(display_path(report.trace_file)))
    elif not report.trace_sampled:
        trace = "(not sampled: TRACE_SAMPLE_RATIO keeps a share of orders' traces)"
    elif report.trace_error:
        trace = f"(not written: {outbound.line(report.trace_error)})"
    else:
        trace = "(no trace file was written)"
    return (
        f"Wall-clock time: {report.wall_s:.2f}s "
        f"(sequential estimate: ~{report.sequential_estimate_s:.1f}s)\n"
        f"Traces written to: {trace}"
    )


def render_header(order_id: str) -> str:
    return f"=== Order Tracking Results for {outbound.line(order_id)} ==="


def render_report(report: OrderReport) -> str:
    """The article's Expected Output: header, one section per agent, timing, trace path."""
    sections = [render_header(report.order_id), *map(render_section, report.results)]
    return "\n\n".join([*sections, render_footer(report)])


def render_summary(summary: BatchSummary) -> str:
    """The table after a batch: one row per order (in the order they completed; only the
    totals past ``SUMMARY_ROWS`` orders, whose reports were printed as they came), then the
    totals."""
    rows = [("order", "ok", "failed", "wall s", "tokens", "cost $")]
    rows += [
        (
            row.order_id,
            str(row.answered),
            str(row.failed),
            f"{row.wall_s:.2f}",
            str(row.tokens),
            f"{row.cost_usd:.4f}",
        )
        for row in summary.rows
    ]
    rows.append(
        (
            f"{summary.orders} orders",
            str(summary.answered),
            str(summary.failed),
            "",
            str(summary.tokens),
            f"{summary.cost_usd:.4f}",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *map(line, rows[1:-1]), rule, line(rows[-1])])


def agent_json(result: AgentResult) -> dict[str, Any]:
    """One agent in the JSON schema (docs/running.md, the `--json` schema), its strings
    redacted (``outbound.json_text`` writes it)."""
    return outbound.public(
        {
            "agent": result.agent,
            "ok": result.ok,
            "status": result.status,
            "text": result.text,
            "error": result.error,
            "elapsed_s": round(result.elapsed_s, 4),
            "tokens": result.tokens,
            "cost_usd": round(result.cost_usd, 6),
            "tool_calls": list(result.tool_calls),
            "verified": result.verified,
            "unsupported_claims": list(result.unsupported_claims),
            "cached": result.cached,
        }
    )


def order_json(report: OrderReport) -> dict[str, Any]:
    """One order in the JSON schema (docs/running.md, the `--json` schema), its strings
    redacted (``outbound.json_text`` writes it)."""
    return {
        **outbound.public(
            {
                "order_id": report.order_id,
                "wall_s": round(report.wall_s, 4),
                "trace_file": display_path(report.trace_file),
                "trace_error": report.trace_error,
                "trace_sampled": report.trace_sampled,
            }
        ),
        "agents": [agent_json(r) for r in report.results],
    }
