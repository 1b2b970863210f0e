"""The metrics: tool trajectory, response match (ROUGE-1, computed by ADK's own function),
answer-check pass rate, latency percentiles; and the thresholds a run is held to."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ._cases import ToolCall

__all__ = ["Thresholds", "percentile", "response_match", "trajectory_score"]


def trajectory_score(actual: Sequence[ToolCall], expected: Sequence[ToolCall]) -> float:
    """1.0 when the turn made every expected tool call, same name and arguments, in any order
    (ADK's ``ANY_ORDER``: other calls may come in between, e.g. a detour through another
    agent), else 0.0. One difference: a turn that expects no call (a refusal) must make none,
    where ADK would pass any."""
    if not expected:
        return 0.0 if actual else 1.0
    return 1.0 if not Counter(expected) - Counter(actual) else 0.0


def response_match(answer: str, reference: str) -> float:
    """ROUGE-1 F-measure of ``answer`` against ``reference``, as ADK's ``response_match_score``
    computes it (its own function: Unicode-aware tokens, Porter stems)."""
    from google.adk.evaluation.final_response_match_v1 import _calculate_rouge_1_scores

    return float(_calculate_rouge_1_scores(answer, reference).fmeasure)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Thresholds:
    """The least each agent must score, per model, for ``track-order eval`` to exit 0. The
    defaults: ADK's for the first two (``tool_trajectory_avg_score`` 1.0,
    ``response_match_score`` 0.8), and every answer verified against its tool results."""

    trajectory: float = 1.0
    response: float = 0.8
    checked: float = 1.0
