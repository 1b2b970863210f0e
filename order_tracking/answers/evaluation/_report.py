"""What an eval run shows: a row per model and agent (the table, or JSON), and whether every
row reaches the thresholds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from ...core.report import display_path
from ._cases import ToolCall
from ._run import CaseResult, TurnResult
from ._score import Thresholds, percentile

__all__ = ["Row", "render_table", "report_json", "rows_of"]


@dataclass(frozen=True)
class Row:
    """One model's scores for one agent (the coordinator's cases are an agent's row too)."""

    model: str
    agent: str
    cases: int
    turns: int
    trajectory: float | None  # mean over the turns that expect tool calls
    response: float | None  # mean ROUGE-1 F over the turns with a reference answer
    checked: float | None  # share of the answers given that their tool results support
    tokens: int
    cost_usd: float
    p50_s: float
    p95_s: float
    errors: int
    first_error: str | None = None

    def shortfalls(self, limits: Thresholds) -> list[str]:
        """What falls below ``limits``, in words; empty when the row passes."""
        found = []
        for name, value, least in (
            ("trajectory", self.trajectory, limits.trajectory),
            ("response", self.response, limits.response),
            ("checked", self.checked, limits.checked),
        ):
            if value is not None and value < least:
                found.append(f"{name} {value:.2f} < {least:.2f}")
        if self.errors:  # a turn without an answer measured nothing
            found.append(f"{self.errors} of {self.turns} turns failed")
        return found


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def rows_of(results: Sequence[CaseResult]) -> list[Row]:
    """A row per (model, agent), in the order they first appear."""
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for result in results:
        groups.setdefault((result.model, result.case.agent), []).append(result)
    rows = []
    for (model, agent), cases in groups.items():
        turns: list[TurnResult] = [t for c in cases for t in c.turns]
        latencies = [t.latency_s for t in turns]
        rows.append(
            Row(
                model=model,
                agent=agent,
                cases=len(cases),
                turns=len(turns),
                trajectory=_mean([t.trajectory for t in turns]),
                response=_mean([t.response for t in turns]),
                checked=_mean([None if t.error else float(bool(t.verified)) for t in turns]),
                tokens=sum(t.tokens for t in turns),
                cost_usd=sum(t.cost_usd for t in turns),
                p50_s=percentile(latencies, 50),
                p95_s=percentile(latencies, 95),
                errors=sum(t.error is not None for t in turns),
                first_error=next((t.error for t in turns if t.error), None),
            )
        )
    return rows


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def render_table(rows: Sequence[Row], limits: Thresholds) -> str:
    """The table, then one line per row below a threshold, then PASS or FAIL."""
    header = (
        "model",
        "agent",
        "cases",
        "trajectory",
        "response",
        "checked",
        "tokens",
        "cost $",
        "p50 s",
        "p95 s",
        "errors",
    )
    table = [header] + [
        (
            r.model,
            r.agent,
            str(r.cases),
            _score(r.trajectory),
            _score(r.response),
            _score(r.checked),
            str(r.tokens),
            f"{r.cost_usd:.4f}",
            f"{r.p50_s:.2f}",
            f"{r.p95_s:.2f}",
            str(r.errors),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:2], widths[:2], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    lines = [line(table[0]), "  ".join("-" * w for w in widths), *map(line, table[1:])]
    failures = [f"{r.model} · {r.agent}: {s}" for r in rows for s in r.shortfalls(limits)]
    lines.append("")
    failed: dict[str, list[Row]] = {}
    for row in rows:
        if row.errors:
            failed.setdefault(row.model, []).append(row)
    for model, erring in failed.items():
        count = sum(r.errors for r in erring)
        lines.append(
            f"errors: {model}: {count} turns failed, the first with {erring[0].first_error}"
        )
    lines.append(
        f"thresholds: trajectory ≥ {limits.trajectory:.2f}, response ≥ {limits.response:.2f}, "
        f"checked ≥ {limits.checked:.2f}"
    )
    lines.extend(f"below: {f}" for f in failures)
    lines.append("FAIL" if failures else "PASS")
    return "\n".join(lines)


def _calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [{"name": name, "args": json.loads(args)} for name, args in calls]


def _turn_json(turn: TurnResult) -> dict[str, Any]:
    return {
        "question": turn.question,
        "answer": turn.answer,
        "tool_calls": _calls(turn.tool_calls),
        "expected_tool_calls": None if turn.expected_tools is None else _calls(turn.expected_tools),
        "reference": turn.reference,
        "trajectory": turn.trajectory,
        "response_match": turn.response,
        "verified": turn.verified,
        "unsupported_claims": list(turn.unsupported),
        "check_reason": turn.check_reason,
        "tokens": turn.tokens,
        "cost_usd": round(turn.cost_usd, 6),
        "latency_s": round(turn.latency_s, 4),
        "error": turn.error,
    }


def report_json(
    results: Sequence[CaseResult], rows: Sequence[Row], limits: Thresholds
) -> dict[str, Any]:
    """Everything: the rows, the thresholds, whether it passed, and every case turn by turn."""
    return {
        "passed": not any(r.shortfalls(limits) for r in rows),
        "thresholds": {
            "trajectory": limits.trajectory,
            "response": limits.response,
            "checked": limits.checked,
        },
        "rows": [
            {
                "model": r.model,
                "agent": r.agent,
                "cases": r.cases,
                "turns": r.turns,
                "trajectory": r.trajectory,
                "response_match": r.response,
                "checked": r.checked,
                "tokens": r.tokens,
                "cost_usd": round(r.cost_usd, 6),
                "p50_s": round(r.p50_s, 4),
                "p95_s": round(r.p95_s, 4),
                "errors": r.errors,
                "passed": not r.shortfalls(limits),
            }
            for r in rows
        ],
        "cases": [
            {
                "model": c.model,
                "eval_set": c.case.set_id,
                "eval_id": c.case.case_id,
                "agent": c.case.agent,
                "trace_file": display_path(c.trace_file),
                "turns": [_turn_json(t) for t in c.turns],
            }
            for c in results
        ],
    }
