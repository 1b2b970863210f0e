"""``track-order eval``: score models on fixed cases, in ADK's eval-set format.

- ``_cases``: eval sets read (ADK's JSON) into cases, and written back; the shipped sets;
- ``_score``: the metrics (tool trajectory, ROUGE-1 as ADK computes it, percentiles) and
  the thresholds;
- ``_run``: cases run through the same agents, models and answer check as ``track-order``;
- ``_report``: a row per model and agent, as a table or JSON.
"""

from ._cases import COORDINATOR, Case, EvalFileError, Turn, dump_set, load_set, shipped_sets
from ._report import Row, render_table, report_json, rows_of
from ._run import TRACE_NAME, CaseResult, TurnResult, evaluate
from ._score import Thresholds, percentile, response_match, trajectory_score

__all__ = [
    "COORDINATOR",
    "TRACE_NAME",
    "Case",
    "CaseResult",
    "EvalFileError",
    "Row",
    "Thresholds",
    "Turn",
    "TurnResult",
    "dump_set",
    "evaluate",
    "load_set",
    "percentile",
    "render_table",
    "report_json",
    "response_match",
    "rows_of",
    "shipped_sets",
    "trajectory_score",
]
