"""A batch from the command line: the orders run in this process or over worker processes,
their results printed as they arrive (``output.py``), a summary, and the exit code."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from .. import composition
from ..agents.specialists import SPECIALIST_NAMES
from ..core.order_ids import OrderIds
from ..core.report import render_header, render_summary
from ..core.results import BatchSummary
from ..core.settings import Settings
from ..ops import lifecycle
from ..ops.lifecycle import EXIT_AGENT_FAILED, EXIT_OK
from ..ops.logs import say
from .output import Mode, Output, Progress

__all__ = ["run_batch"]


def run_batch(
    order_ids: OrderIds, settings: Settings, mode: Mode, *, concurrency: int, workers: int
) -> int:
    """Track ``order_ids``, print as the chosen ``mode`` says; returns the exit code (0 every
    agent answered, 1 some did not, 128 + the signal when interrupted). The batch streams:
    ids are read as orders finish, and only the summary is kept."""
    batch = len(order_ids) > 1
    progress = None
    if batch and mode != Mode.QUIET and sys.stderr.isatty():
        progress = Progress(len(order_ids) * len(SPECIALIST_NAMES), sys.stderr)
    out = Output(mode, batch, progress)

    tracing = None
    if workers > 1 and batch:
        from .pool import Pool

        # Opened once here so a missing database is one error, not one per worker (with
        # TOOLS_MCP_URL no system is opened here: the server has them).
        if not settings.tools_mcp:
            asyncio.run(composition.open_backends(settings).aclose())
        from ..tracing.exporters import check_exporters

        check_exporters(settings)  # likewise an exporter that cannot be built
        asyncio.run(
            composition.warm_up()
        )  # before the fork: every worker inherits the warmed imports
        pool = Pool(settings, workers, concurrency=concurrency, orders=len(order_ids))

        async def run(stop: asyncio.Event) -> BatchSummary:
            return await pool.collect(
                order_ids,
                SPECIALIST_NAMES,
                stop=stop,
                on_result=out.on_result,
                on_report=out.on_report,
            )

        summary, signum = asyncio.run(lifecycle.until_signalled(run, on_force=pool.kill))
    else:
        tracker = composition.build(settings, warm=True)
        tracing = tracker.tracing
        if mode == Mode.STREAM and not batch:
            click.echo(render_header(next(iter(order_ids))) + "\n")

        async def run(stop: asyncio.Event) -> BatchSummary:
            try:
                return await tracker.track_orders(
                    order_ids,
                    concurrency=concurrency,
                    stop=stop,
                    on_result=out.on_result,
                    on_report=out.on_report,
                )
            finally:
                await tracker.aclose()

        summary, signum = asyncio.run(lifecycle.until_signalled(run))
    out.finish()
    if batch and mode in (Mode.TEXT, Mode.STREAM):
        click.echo(render_summary(summary))
    not_started = len(order_ids) - summary.orders
    if not_started:
        say(f"{not_started} of {len(order_ids)} orders were not started.", logging.WARNING)
    # Trace files that could not be written: said once, whatever the number of orders.
    taken = tracing.files.take_errors() if tracing else []
    for failure in dict.fromkeys([*summary.trace_errors, *taken]):
        lifecycle.warn_trace_files(failure)
    if signum is not None:
        say(f"Interrupted by {signal.Signals(signum).name}.", logging.WARNING)
        return 128 + signum
    return EXIT_OK if summary.all_ok and not not_started else EXIT_AGENT_FAILED
