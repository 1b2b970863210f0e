"""A batch from the command line: the orders run in this process or over worker processes,
their results printed as they arrive (``output.py``), a summary, and the exit code."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence

import click

from . import app, lifecycle
from .config import Settings
from .lifecycle import EXIT_AGENT_FAILED, EXIT_OK
from .output import Mode, Output, Progress
from .report import render_header, render_summary
from .results import OrderReport
from .specialists import SPECIALIST_NAMES

__all__ = ["run_batch"]


def run_batch(
    order_ids: Sequence[str], settings: Settings, mode: Mode, *, concurrency: int, workers: int
) -> int:
    """Track ``order_ids``, print as the chosen ``mode`` says; returns the exit code (0 every
    agent answered, 1 some did not, 128 + the signal when interrupted)."""
    batch = len(order_ids) > 1
    progress = None
    if batch and mode != Mode.QUIET and sys.stderr.isatty():
        progress = Progress(len(order_ids) * len(SPECIALIST_NAMES), sys.stderr)
    out = Output(mode, batch, progress)

    tracing = None
    if workers > 1 and batch:
        from .workers import Pool

        asyncio.run(app.warm_up())  # before the fork: every worker inherits the warmed imports
        pool = Pool(order_ids, settings, workers, concurrency=concurrency)

        async def run(stop: asyncio.Event) -> list[OrderReport]:
            return await pool.collect(
                SPECIALIST_NAMES, stop=stop, on_result=out.on_result, on_report=out.on_report
            )

        reports, signum = asyncio.run(lifecycle.until_signalled(run, on_force=pool.kill))
    else:
        tracker = app.build(settings, warm=True)
        tracing = tracker.tracing
        if mode == Mode.STREAM and not batch:
            click.echo(render_header(order_ids[0]) + "\n")

        async def run(stop: asyncio.Event) -> list[OrderReport]:
            return await tracker.track_orders(
                order_ids,
                concurrency=concurrency,
                stop=stop,
                on_result=out.on_result,
                on_report=out.on_report,
            )

        reports, signum = asyncio.run(lifecycle.until_signalled(run))
    out.finish()
    if batch and mode in (Mode.TEXT, Mode.STREAM):
        click.echo(render_summary(reports))
    # Trace files that could not be written: said once, whatever the number of orders.
    failures = [r.trace_error for r in reports if r.trace_error]
    for failure in dict.fromkeys([*failures, *(tracing.files.take_errors() if tracing else [])]):
        lifecycle.warn_trace_files(failure)
    if signum is not None:
        click.echo(f"Interrupted by {signal.Signals(signum).name}.", err=True)
        return 128 + signum
    return EXIT_OK if all(r.all_ok for r in reports) else EXIT_AGENT_FAILED
