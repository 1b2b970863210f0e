"""``track-order worker``: agent runs for orders submitted to Temporal, until SIGINT/SIGTERM,
with its metrics on ``--metrics-port`` if asked (loopback unless SERVICE_API_KEYS or
``--insecure``)."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from ..ops.logs import say
from .common import BadInput, concurrency_option, insecure_option, settings, verbose_option
from .temporal import queue_option, run_temporal, temporal_module

__all__ = ["worker_command"]


@click.command("worker")
@queue_option
@concurrency_option("Agent runs (activities) this worker runs at once.")
@click.option(
    "--max-runs-per-second",
    "runs_per_second",
    type=click.FloatRange(min=0, min_open=True, max=100_000),
    default=None,
    help="Cap on agent runs started per second across the task queue (all its workers).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (/metrics; 0: any free port).",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Interface for --metrics-port."
)
@insecure_option
@verbose_option
def worker_command(
    task_queue: str | None,
    concurrency: int,
    runs_per_second: float | None,
    metrics_port: int | None,
    metrics_host: str,
    insecure: bool,
    verbose: bool,
) -> None:
    """Run agent runs for orders submitted to Temporal, until SIGINT/SIGTERM."""
    from .. import composition
    from ..core.listen import ListenError, bind, exposure_warning, url
    from ..core.settings import ConfigError
    from ..tracing.writer import trace_part

    config = settings(verbose)
    temporal = temporal_module()
    queue = task_queue or config.temporal_task_queue
    sock = None
    if metrics_port is not None:
        try:
            keys = config.service_api_keys
            warning = exposure_warning(
                metrics_host, metrics_port, keys, insecure, exposes="read this worker's metrics"
            )
            sock = bind(metrics_host, metrics_port)  # before the heavy start-up: fails fast
        except ListenError as exc:
            raise BadInput(str(exc)) from None
        if warning:
            say(warning, logging.WARNING)
    try:
        app = composition.build(config, warm=True, trace_part=trace_part())
    except ConfigError as exc:
        raise BadInput(str(exc)) from None

    async def main(stop: asyncio.Event) -> None:
        from ..http.asgi import serve_until
        from ..http.service import metrics_app

        started = asyncio.Event()
        runner = asyncio.create_task(
            temporal.run_worker(
                app,
                stop,
                address=config.temporal_address,
                namespace=config.temporal_namespace,
                task_queue=queue,
                concurrency=concurrency,
                runs_per_second=runs_per_second,
                started=started,
            )
        )
        exporter = None
        if sock is not None:
            exporter = asyncio.create_task(
                serve_until(
                    sock,
                    metrics_app(app.watch, config.service_api_keys),
                    stop,
                    verbose=verbose,
                )
            )
            say(f"Metrics on {url(sock)}/metrics")
        await asyncio.wait(
            [runner, asyncio.create_task(started.wait())], return_when="FIRST_COMPLETED"
        )
        if started.is_set():
            say(f"Worker on {config.temporal_address}, task queue {queue!r}.")
        try:
            await runner
        finally:
            if exporter is not None:
                stop.set()  # the worker ended on its own (its server went away): so does this
                await asyncio.gather(exporter, return_exceptions=True)
            await app.aclose()

    _, signum = run_temporal(main)
    if signum is not None:
        say(f"Stopped by {signal.Signals(signum).name}.")
