"""``track-order consume`` and ``track-order publish``: order questions on a broker (NATS
JetStream, Redis streams, Kafka; the ``stream`` extra). Settings and options are checked
before anything heavy is imported; a broker that is away is waited for, never an exit."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from typing import Any, BinaryIO

import click

from ..core.values import ConfigError, broker_url
from ..ops import lifecycle
from ..ops.logs import say
from .common import (
    BadInput,
    concurrency_option,
    count,
    id_file_option,
    insecure_option,
    read_order_ids,
    settings,
    timeout,
    verbose_option,
)

__all__ = ["consume_command", "publish_command"]

DEFAULT_TOPIC = "orders"


def _stream_module() -> Any:
    try:
        from .. import stream
    except ImportError:
        raise BadInput(
            "streaming needs the stream extra: uv sync --extra stream "
            "(or pip install 'order-tracking[stream]')"
        ) from None
    return stream


def _broker(given: str | None, configured: str | None) -> str:
    if given is None and configured is None:
        raise BadInput("give --broker URL (or set BROKER_URL), e.g. nats://127.0.0.1:4222")
    try:
        return broker_url(given, "--broker") if given is not None else str(configured)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None


def _topic(ctx: Any, param: Any, value: str | None) -> str | None:
    from ..stream._brokers import check_topic

    if value is None or (value == "-" and param.name == "results"):
        return value
    try:
        return check_topic(value, param.opts[0])
    except ValueError as exc:
        raise BadInput(str(exc)) from None


broker_option = click.option(
    "--broker", "broker", default=None, metavar="URL",
    help="nats://HOST:PORT, redis://HOST:PORT/DB or kafka://HOST:PORT (default: BROKER_URL).",
)  # fmt: skip
topic_option = click.option(
    "--topic", default=DEFAULT_TOPIC, show_default=True, callback=_topic,
    help="Where the questions are.",
)  # fmt: skip


def _seconds(name: str, default: float | None, text: str) -> Any:
    return click.option(
        name, type=float, default=default, show_default=default is not None,
        callback=timeout, metavar="SECONDS", help=text,
    )  # fmt: skip


@click.command("consume")
@broker_option
@topic_option
@click.option("--results", default="orders.results", show_default=True, callback=_topic,
              help="Where the reports go; '-': JSON Lines on stdout instead.")  # fmt: skip
@click.option("--dead-letter", default="orders.dead-letter", show_default=True,
              callback=_topic, help="Where messages that are not events go, with why.")  # fmt: skip
@click.option("--group", default="order-tracking", show_default=True, callback=_topic,
              help="Consumer group: every consumer in it shares the topic's events.")  # fmt: skip
@concurrency_option("Events in flight at once (nothing more is fetched while full).")
@_seconds("--exit-when-idle", None, "Exit once the stream has been empty this long.")
@_seconds("--redeliver-after", 30.0, "An event a consumer took and never answered (it died) "
          "goes to another after this long.")  # fmt: skip
@click.option("--max-deliveries", type=int, default=5, show_default=True, callback=count(1000),
              help="An event delivered this often without an answer is dead-lettered.")  # fmt: skip
@_seconds("--drain-timeout", 20.0, "On SIGTERM/SIGINT: time for the events in flight to "
          "finish; the rest are given back for redelivery.")  # fmt: skip
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics on this port (/metrics; 0: any free port).")  # fmt: skip
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Interface for --metrics-port.")  # fmt: skip
@insecure_option
@verbose_option
def consume_command(
    broker: str | None,
    topic: str,
    results: str,
    dead_letter: str,
    group: str,
    concurrency: int,
    exit_when_idle: float | None,
    redeliver_after: float,
    max_deliveries: int,
    drain_timeout: float,
    metrics_port: int | None,
    metrics_host: str,
    insecure: bool,
    verbose: bool,
) -> None:
    """Answer order questions from a broker topic as they arrive; publish each report.

    Run it N times (on one machine or many) with the same --group: the broker spreads the
    events over them. SIGTERM finishes what is in flight (or gives it back) and exits 0.
    """
    config = settings(verbose)
    url = _broker(broker, config.broker_url)
    stream = _stream_module()
    _distinct(topic=topic, results=results, dead_letter=dead_letter)
    sock = _metrics_socket(metrics_host, metrics_port, config.service_api_keys, insecure)
    from .. import composition
    from ..tracing.writer import trace_part

    try:
        app = composition.build(config, warm=True, trace_part=trace_part())
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    where = stream.Subscription(
        topic=topic,
        group=group,
        consumer=f"{socket.gethostname()[:40]}-{os.getpid()}",
        concurrency=concurrency,
        redeliver_after_s=redeliver_after,
    )
    options = stream.ConsumeOptions(
        subscription=where,
        results=None if results == "-" else results,
        dead_letter=dead_letter,
        max_deliveries=max_deliveries,
        drain_s=drain_timeout,
        exit_when_idle_s=exit_when_idle,
    )
    metrics = stream.StreamMetrics(app.watch.metrics.registry if app.watch.metrics else None)

    async def main(stop: asyncio.Event) -> Any:
        def write_line(body: bytes) -> None:
            try:
                sys.stdout.buffer.write(body + b"\n")
                sys.stdout.buffer.flush()
            except OSError:  # stdout closed (`| head`): nobody reads the reports now
                stop.set()
                raise

        lines = stream.ConnectionLines(url)
        exporter = None
        if sock is not None:
            from ..core.listen import url as sock_url
            from ..http.asgi import serve_until
            from ..http.service import metrics_app

            served = metrics_app(app.watch, config.service_api_keys)
            exporter = asyncio.create_task(serve_until(sock, served, stop, verbose=verbose))
            say(f"Metrics on {sock_url(sock)}/metrics")
        try:
            return await stream.consume(
                stream.transport_for(url, lines),
                stream.answering(app),
                options,
                stop,
                pattern=config.order_ids,
                metrics=metrics,
                watch=app.watch,
                events=lines,
                write_line=write_line,
            )
        finally:
            if exporter is not None:
                stop.set()
                await asyncio.gather(exporter, return_exceptions=True)
            await app.aclose()

    summary, signum = asyncio.run(lifecycle.until_signalled(main))
    say(
        f"Consumed {summary.consumed}: {summary.answered} answered, {summary.dead_lettered} "
        f"dead-lettered, {summary.already_answered} already answered, {summary.abandoned} "
        "given back.",
        logger="order_tracking.stream",
    )
    if signum is not None:
        say(f"Stopped by {signal.Signals(signum).name}.")


def _distinct(**topics: str) -> None:
    """Each its own (as NATS stream names): a dead letter put back where it came from loops."""
    seen: dict[str, str] = {}
    for option, name in topics.items():
        if (first := seen.setdefault(name.replace(".", "_"), option)) != option and name != "-":
            raise BadInput(f"--{option.replace('_', '-')} and --{first} must differ, got {name!r}")


def _metrics_socket(host: str, port: int | None, keys: tuple[str, ...], insecure: bool) -> Any:
    """Bound before the heavy start-up (a busy port fails fast); loopback unless keys."""
    if port is None:
        return None
    from ..core.listen import ListenError, bind, exposure_warning

    try:
        warning = exposure_warning(
            host, port, keys, insecure, exposes="read this consumer's metrics"
        )
        sock = bind(host, port)
    except ListenError as exc:
        raise BadInput(str(exc)) from None
    if warning:
        say(warning, logging.WARNING)
    return sock


@click.command("publish")
@click.argument("order_ids", nargs=-1, metavar="[ORDER_ID]...")
@id_file_option
@broker_option
@topic_option
@click.option("--question", default=None, help="Text kept with each event's report.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event on stdout.")
@_seconds("--connect-timeout", 10.0, "Give up if the broker cannot be reached this fast.")
@verbose_option
def publish_command(
    order_ids: tuple[str, ...],
    id_file: BinaryIO | None,
    broker: str | None,
    topic: str,
    question: str | None,
    as_json: bool,
    connect_timeout: float,
    verbose: bool,
) -> None:
    """Put a question about each ORDER_ID on a topic, each its own event id (printed)."""
    config = settings(verbose)
    url = _broker(broker, config.broker_url)
    stream = _stream_module()
    if question is not None:
        from ..stream._event import MAX_QUESTION_CHARS

        if not (0 < len(question) <= MAX_QUESTION_CHARS and question.isprintable()):
            raise BadInput(f"--question must be 1 to {MAX_QUESTION_CHARS} printable characters")
    with read_order_ids(order_ids, id_file, config.order_ids) as ids:

        def published(event_id: str, order_id: str) -> None:
            pair = {"event_id": event_id, "order_id": order_id}
            click.echo(json.dumps(pair) if as_json else f"{event_id} {order_id}")

        trouble = _LastTrouble()

        async def main() -> int:
            transport = stream.transport_for(url, trouble)
            orders = ((order_id, question) for order_id in ids)
            return await asyncio.wait_for(
                stream.publish_events(transport, topic, orders, on_published=published),
                connect_timeout + len(ids),  # connecting, then a generous second per event
            )

        try:
            asyncio.run(main())
        except Exception as exc:  # noqa: BLE001 - unreachable, refused, timed out
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {connect_timeout:g} s"
            else:
                what = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                reason = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
            if trouble.reason:
                reason = f"{trouble.reason[:200]}; {reason}"
            shown = stream._run.shown_url(url)
            raise BadInput(f"cannot publish to {shown} ({reason})") from None


class _LastTrouble:
    """``publish`` says nothing while the client retries: its one error line says why."""

    reason = ""

    def lost(self, reason: str) -> None:
        self.reason = reason

    def back(self) -> None:
        self.reason = ""
