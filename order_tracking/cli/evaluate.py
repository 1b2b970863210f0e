"""``track-order eval``: score models on fixed cases (the package's eval sets, or ADK eval-set
files of your own) and exit 1 below the thresholds, so a CI job can gate on it."""

from __future__ import annotations

import asyncio
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..core import outbound
from ..core.settings import ConfigError
from ..ops.lifecycle import EXIT_AGENT_FAILED, EXIT_OK
from .common import BadInput, concurrency_option, settings, timeout_option, verbose_option

__all__ = ["eval_command"]


def _score(ctx: Any, param: Any, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 <= value <= 1):
        raise BadInput(f"{param.opts[0]} must be between 0 and 1, got {value:g}")
    return value


@click.command("eval")
@click.argument(
    "files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False), metavar="[FILE]..."
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="MODEL",
    help="A LiteLLM model to score, for every agent; repeat to compare models side by side "
    "(default: the configured models).",
)
@click.option("--json", "as_json", is_flag=True, help="Every score and answer as one JSON object.")
@click.option(
    "--min-score",
    type=float,
    default=None,
    callback=_score,
    metavar="X",
    help="The least every agent must score on every metric (default: trajectory 1.0, "
    "response 0.8, checked 1.0).",
)
@click.option(
    "--min-response",
    type=float,
    default=None,
    callback=_score,
    metavar="X",
    help="The least response match alone (ROUGE-1 against the reference answers).",
)
@concurrency_option("Cases in flight at once, across every model.")
@timeout_option("Deadline for each turn (default: AGENT_TIMEOUT_S, else 60).")
@verbose_option
def eval_command(
    files: tuple[Path, ...],
    models: tuple[str, ...],
    as_json: bool,
    min_score: float | None,
    min_response: float | None,
    concurrency: int,
    timeout_s: float | None,
    verbose: bool,
) -> None:
    """Score models on eval cases: for each model and agent, the tool trajectory, the
    response match, the share of answers their tool results support, tokens, cost and
    latency. FILE: ADK eval sets (*.evalset.json); default: the package's own, on the
    built-in data."""
    config = settings(verbose, timeout_s)
    from .. import composition
    from ..answers.evaluation import (
        EvalFileError,
        Thresholds,
        evaluate,
        load_set,
        render_table,
        report_json,
        rows_of,
        shipped_sets,
    )

    limits = Thresholds()
    if min_score is not None:
        limits = Thresholds(min_score, min_score, min_score)
    if min_response is not None:
        limits = replace(limits, response=min_response)
    names = [m.strip() for m in models]
    if any(not name for name in names):
        raise BadInput("--model needs a model name, e.g. --model openai/gpt-4o-mini")
    try:
        cases = [case for path in files or shipped_sets() for case in load_set(path)]
    except EvalFileError as exc:
        raise BadInput(str(exc)) from None
    if not cases:
        raise BadInput("no eval cases in the files given")
    if not names:
        composition.announce_model_choice(config)
    try:
        apps = composition.eval_apps(config, list(dict.fromkeys(names)), builtin_data=not files)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None

    async def main() -> list[Any]:
        try:
            return await evaluate(cases, apps, concurrency=concurrency)
        finally:
            for app in apps.values():
                await app.aclose()

    results = asyncio.run(main())
    rows = rows_of(results)
    if as_json:  # the answers are models' text: through the way out, like a report
        click.echo(outbound.json_text(report_json(results, rows, limits)))
    else:
        click.echo("\n".join(map(outbound.line, render_table(rows, limits).splitlines())))
    passed = not any(row.shortfalls(limits) for row in rows)
    sys.exit(EXIT_OK if passed else EXIT_AGENT_FAILED)
