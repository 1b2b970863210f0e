"""``track-order worker``, ``submit`` and ``result``: the same orders, run on Temporal (the
``temporal`` extra). Ids are checked and the server reached before anything is submitted; an
unreachable server is one line, exit 2."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import click

from ..agents.specialists import SPECIALIST_NAMES
from ..core import outbound
from ..core.order_ids import InvalidOrderId, OrderIds, source_name
from ..core.report import render_summary
from ..core.results import BatchSummary, OrderReport
from ..core.values import shown
from ..ops import lifecycle
from ..ops.lifecycle import EXIT_AGENT_FAILED, EXIT_OK
from ..ops.logs import say
from .common import BadInput, id_file_option, settings, verbose_option
from .output import Mode, Output

__all__ = [
    "queue_option",
    "result_command",
    "run_temporal",
    "submit_command",
    "temporal_module",
]

TRACE_NAME = "order_tracking_temporal"  # the root span of an order's trace, at the submit

queue_option = click.option(
    "--task-queue", default=None, metavar="QUEUE", help="Default: TEMPORAL_TASK_QUEUE."
)


def temporal_module() -> Any:
    try:
        from .. import temporal
    except ImportError:
        raise BadInput(
            "Temporal needs the temporal extra: uv sync --extra temporal "
            "(or pip install 'order-tracking[temporal]')"
        ) from None
    return temporal


def run_temporal(main: Any) -> tuple[Any, int | None]:
    temporal = temporal_module()
    try:
        return asyncio.run(lifecycle.until_signalled(main))
    except temporal.TemporalUnavailable as exc:
        raise BadInput(str(exc)) from None


@click.command("submit")
@click.argument("order_ids", nargs=-1, metavar="[ORDER_ID]...")
@id_file_option
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Print the reports as orders finish, or only the workflow ids.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per order on stdout.")
@click.option("--key", default=None, help="Request key: the same order and key run once.")
@click.option(
    "--priority",
    type=click.IntRange(1, 5),
    default=3,
    show_default=True,
    help="1 first, 5 last, when a backlog forms.",
)
@queue_option
@verbose_option
def submit_command(
    order_ids: tuple[str, ...],
    id_file: BinaryIO | None,
    wait: bool,
    as_json: bool,
    key: str | None,
    priority: int,
    task_queue: str | None,
    verbose: bool,
) -> None:
    """Submit each ORDER_ID to Temporal: one workflow per order, its agents as activities."""
    config = settings(verbose)
    try:
        ids = OrderIds(order_ids, id_file, source_name(id_file), config.order_ids)
    except InvalidOrderId as exc:
        raise BadInput(str(exc)) from None
    temporal = temporal_module()
    if key is not None and not temporal.KEY.fullmatch(key):  # a step of the workflow id
        raise BadInput(
            "--key must be 1 to 64 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    with ids:
        if not len(ids):
            raise BadInput("give at least one order id (e.g. ORD-1001), or --file PATH")
        mode = Mode.JSON if as_json else Mode.TEXT
        out = Output(mode, batch=len(ids) > 1)
        request_key = key or temporal.new_key()

        async def main(stop: asyncio.Event) -> BatchSummary:
            from ..tracing.setup import setup_tracing

            client = await temporal.connect(config.temporal_address, config.temporal_namespace)
            # This process's part of each order's trace is its root; the workers write the
            # rest. Nothing is instrumented: that would import the agent stack for nothing.
            tracing = setup_tracing(config, instrument=False)
            summary = BatchSummary()

            async def track(order_id: str, submitted: asyncio.Event) -> OrderReport | None:
                """Submit and, with --wait, wait for one order, all in its trace: this
                process's part is its root, the workers write the rest."""
                request = temporal.OrderRequest(
                    order_id=order_id,
                    agents=list(SPECIALIST_NAMES),
                    deadline_s=config.agent_timeout_s,
                    max_tokens=config.max_tokens_per_run,
                    max_cost_usd=config.max_cost_usd_per_run,
                    max_model_calls=config.max_model_calls_per_agent,
                    answer_check=config.answer_check.value,
                )
                with tracing.trace(TRACE_NAME, {"order_id": order_id}) as trace_id:
                    # Known before the submit: an interrupted submit may have started it.
                    wid = temporal.workflow_id(order_id, request_key, config.order_ids)
                    started.append((order_id, wid))
                    try:
                        handle = await temporal.submit(
                            client,
                            request,
                            key=request_key,
                            task_queue=task_queue or config.temporal_task_queue,
                            priority=priority,
                            trace_id=trace_id,
                            pattern=config.order_ids,
                        )
                    finally:
                        submitted.set()
                    if not wait:
                        line = {"order_id": order_id, "workflow_id": handle.id}
                        click.echo(outbound.json_text(line) if as_json else outbound.line(handle.id))
                        answered.add(wid)
                        return None
                    order, first_trace_id = await temporal.report(
                        handle, order_id, config.order_ids
                    )
                    answered.add(wid)
                if first_trace_id not in (None, trace_id or temporal.NOT_SAMPLED):
                    # a repeated submit: the first's
                    return replace(order, **_trace_of(first_trace_id, config.trace_dir))
                if trace_id is None:  # left out by TRACE_SAMPLE_RATIO: no part was written
                    return replace(order, trace_sampled=False)
                await tracing.written(trace_id)
                return replace(
                    order,
                    trace_file=tracing.file_for(trace_id),
                    trace_error=tracing.error_for(trace_id),
                )

            started: list[tuple[str, str]] = []  # (order id, workflow id) in submit order
            answered: set[str] = set()  # workflow ids printed (--no-wait) or reported
            waiting: set[asyncio.Task[OrderReport | None]] = set()

            async def submit_all() -> None:
                """One submit at a time, in the ids' order (a task per order only once its
                turn comes: a million ids are not a million tasks at once)."""
                for order_id in ids:
                    submitted = asyncio.Event()
                    waiting.add(asyncio.create_task(track(order_id, submitted)))
                    await submitted.wait()

            producer = asyncio.create_task(submit_all())
            stopper = asyncio.create_task(stop.wait())
            try:
                while waiting or not producer.done():
                    watched = waiting | {stopper} | (set() if producer.done() else {producer})
                    done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                    for task in done - {producer, stopper}:
                        waiting.discard(task)
                        report = task.result()
                        if report is None:
                            continue
                        for result in report.results:
                            out.on_result(report.order_id, result)
                        out.on_report(report)
                        summary.add(report)
                    if producer in done:
                        producer.result()
                    if stopper in done:  # the orders go on in Temporal: `result` fetches them
                        for order_id, wid in dict.fromkeys(started):
                            if wid not in answered:
                                say(f"{order_id}: track-order result {wid}")
                        break
            finally:
                for task in (producer, stopper, *waiting):
                    task.cancel()
                await asyncio.gather(producer, *waiting, return_exceptions=True)
                await asyncio.to_thread(tracing.flush)
            return summary

        summary, signum = run_temporal(main)
    if wait and out.batch and mode == Mode.TEXT:  # the same summary table as track-order's
        click.echo(render_summary(summary))
    if signum is not None:
        say(f"Interrupted by {signal.Signals(signum).name}.", logging.WARNING)
        sys.exit(128 + signum)
    sys.exit(EXIT_OK if summary.all_ok else EXIT_AGENT_FAILED)


@click.command("result")
@click.argument("workflow_id")
@click.option("--json", "as_json", is_flag=True, help="The order as one JSON object.")
@verbose_option
def result_command(workflow_id: str, as_json: bool, verbose: bool) -> None:
    """Print the report of a submitted order (waiting for it if it is still running)."""
    config = settings(verbose)
    temporal = temporal_module()
    # A workflow id as `submit` prints it, track-order/ORDER_ID/KEY: checked before it is
    # sent anywhere or echoed (a line break, an escape or 5,000 characters are no id).
    # The id part is the order's key (upper case: `submit` names an order by it) and may
    # hold a "/" when ORDER_ID_PATTERN allows one; a KEY never does.
    prefix, _, rest = workflow_id.partition("/")
    order_part, _, key = rest.rpartition("/")
    try:
        if prefix != "track-order" or not temporal.KEY.fullmatch(key):
            raise InvalidOrderId("")
        order_id = config.order_ids.parse_key(order_part)
    except InvalidOrderId:
        raise BadInput(
            f"{shown(workflow_id)} is not a workflow id of `track-order submit` "
            "(track-order/ORDER_ID/KEY)"
        ) from None

    async def main(stop: asyncio.Event) -> Any:
        client = await temporal.connect(config.temporal_address, config.temporal_namespace)
        handle = client.get_workflow_handle(workflow_id, result_type=list[temporal.AgentData])
        return await temporal.report(handle, order_id, config.order_ids)

    (report, trace_id), _ = run_temporal(main)
    report = replace(report, **_trace_of(trace_id, config.trace_dir))
    Output(Mode.JSON if as_json else Mode.TEXT, batch=False).on_report(report)
    sys.exit(EXIT_OK if report.all_ok else EXIT_AGENT_FAILED)


def _trace_of(trace_id: str | None, folder: Path) -> dict[str, Any]:
    """A fetched order's trace file here, or why there is none."""
    from ..tracing.files import trace_parts

    if trace_id is None:
        return {"trace_error": "its submit recorded no trace"}
    if trace_id == temporal_module().NOT_SAMPLED:
        return {"trace_sampled": False}
    parts = trace_parts(folder, trace_id)
    if parts:
        return {"trace_file": parts[0]}
    return {
        "trace_error": f"trace {trace_id} is not in {folder}/ (it is in the trace folders "
        "of the process that submitted it and of the workers)"
    }
