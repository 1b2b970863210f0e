"""What a run produces and what it may spend: plain data, importing nothing of ADK, LiteLLM or
Monocle, so rendering, the HTTP service and the worker pool can use it without the agent
stack."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "STOPPED",
    "SUMMARY_ROWS",
    "ToolCall",
    "AgentResult",
    "BatchSummary",
    "OrderReport",
    "ReportCallback",
    "ResultCallback",
    "RunLimits",
    "Status",
    "tool_call",
]


# A tool call as (name, its arguments as canonical JSON): comparable, hashable.
ToolCall = tuple[str, str]


def tool_call(name: str | None, args: Any) -> ToolCall:
    return name or "", json.dumps(args or {}, sort_keys=True, default=str)


# A cancelled agent run's error, in the runner and on a Temporal worker alike.
STOPPED = "stopped before it finished"


class Status(StrEnum):
    """How an agent's run ended. Only ``OK`` counts as answered; ``DEGRADED`` has an answer
    built from the tool results alone (every model failed, or ``ANSWER_CHECK=replace`` put
    it in place of an unverified answer); ``UNVERIFIED`` has an answer that states what no
    tool returned, or stands on no lookup for the asked order; ``UNAVAILABLE`` has an answer
    that says which system it needed could not be reached."""

    OK = "ok"
    UNVERIFIED = "unverified"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"
    ERROR = "error"
    TIMEOUT = "timeout"
    BUDGET = "budget"
    CANCELLED = "cancelled"

    @property
    def keeps_answer(self) -> bool:
        """Whether a run that ended so still has an answer to show."""
        return self in (Status.OK, Status.UNVERIFIED, Status.DEGRADED, Status.UNAVAILABLE)


@dataclass(frozen=True)
class AgentResult:
    """One agent's answer, or why it has none. Data, never a bare exception.

    ``tool_args`` holds each tool call's arguments as JSON, beside ``tool_calls``.
    ``verified``: whether the answer's claims were all found in the run's tool results (None:
    not checked); ``unsupported_claims`` are those that were not, as written."""

    agent: str
    status: Status
    text: str
    error: str | None
    elapsed_s: float
    tool_calls: tuple[str, ...] = ()
    session_id: str | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    model_calls: int = 0
    retries: int = 0
    tool_args: tuple[str, ...] = ()
    verified: bool | None = None
    unsupported_claims: tuple[str, ...] = ()
    cached_calls: int = 0  # model calls answered from LiteLLM's cache (MODEL_CACHE)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    @property
    def cached(self) -> bool:
        """Whether every model call of the run was answered from the cache: nothing was
        paid for, and the answer was still checked against this run's tool results."""
        return 0 < self.cached_calls >= self.model_calls


@dataclass(frozen=True)
class OrderReport:
    """Every agent's result for one order, in the agents' order, and the order's trace."""

    order_id: str
    results: tuple[AgentResult, ...]
    wall_s: float
    trace_file: Path | None = None
    trace_error: str | None = None  # why there is no trace file (a full disk, say)
    # TRACE_SAMPLE_RATIO left this order's trace out (no file, by design: not an error).
    trace_sampled: bool = True

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def sequential_estimate_s(self) -> float:
        """What the same runs would have taken one after another."""
        return sum(r.elapsed_s for r in self.results)


SUMMARY_ROWS = 100  # orders a batch summary lists one by one; beyond, only the totals


@dataclass(frozen=True)
class SummaryRow:
    order_id: str
    answered: int
    failed: int
    wall_s: float
    tokens: int
    cost_usd: float


@dataclass
class BatchSummary:
    """What a batch has done, kept as reports arrive: totals, and a row per order for the
    first ``SUMMARY_ROWS`` orders (then none: memory stays flat in the number of orders)."""

    orders: int = 0
    answered: int = 0
    failed: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    rows: list[SummaryRow] = field(default_factory=list)
    trace_errors: list[str] = field(default_factory=list)  # distinct

    @property
    def all_ok(self) -> bool:
        return self.failed == 0

    @property
    def listed(self) -> bool:
        """Whether ``rows`` has every order."""
        return self.orders <= SUMMARY_ROWS

    def add(self, report: OrderReport) -> None:
        answered = sum(r.ok for r in report.results)
        row = SummaryRow(
            report.order_id,
            answered,
            len(report.results) - answered,
            report.wall_s,
            sum(r.tokens for r in report.results),
            sum(r.cost_usd for r in report.results),
        )
        self.orders += 1
        self.answered += row.answered
        self.failed += row.failed
        self.tokens += row.tokens
        self.cost_usd += row.cost_usd
        if report.trace_error and report.trace_error not in self.trace_errors:
            self.trace_errors.append(report.trace_error)
        if self.listed:
            self.rows.append(row)
        else:
            self.rows.clear()


@dataclass(frozen=True)
class RunLimits:
    """What one order run may spend: a deadline per agent, model calls per agent, and tokens
    and cost for the whole run (0 means no cap)."""

    deadline_s: float | None = 60.0
    max_model_calls: int = 10
    max_tokens: int = 0
    max_cost_usd: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RunLimits:
        return cls(
            deadline_s=settings.agent_timeout_s,
            max_model_calls=settings.max_model_calls_per_agent,
            max_tokens=settings.max_tokens_per_run,
            max_cost_usd=settings.max_cost_usd_per_run,
        )


# Called as results arrive: ``on_result(order_id, result)`` per agent, ``on_report(report)``
# per order.
ResultCallback = Callable[[str, AgentResult], None]
ReportCallback = Callable[[OrderReport], None]
