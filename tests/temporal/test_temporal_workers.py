"""Workers under stress, on a real dev server: one killed with SIGKILL mid-batch (another
worker, a real ``track-order worker`` process, takes its agent runs over; every order completes
exactly once, all its answers present; the figures it prints are recorded in BENCHMARKS.md),
and a backlog served by priority."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid

from helpers import ARTICLE_ANSWERS, TRACK_ORDER

from order_tracking.agents.specialists import SPECIALIST_NAMES
from order_tracking.temporal import OrderRequest, connect, report, submit
from order_tracking.tracing.files import load_trace, trace_parts

ORDERS = 50


def _worker(address: str, queue: str, cwd, name: str, traces) -> subprocess.Popen[bytes]:
    """A ``track-order worker`` process, its stderr in ``cwd/name.log`` (a file: a pipe nobody
    reads past the first line could fill and stall the worker), its trace parts in
    ``traces``."""
    env = dict(
        os.environ,
        TEMPORAL_ADDRESS=address,
        TEMPORAL_TASK_QUEUE=queue,
        SHIPPING_MODEL="offline",
        OFFLINE_MODEL_LATENCY_S="0.5",
        MONOCLE_TRACE_OUTPUT_PATH=str(traces),
    )
    return subprocess.Popen(
        [TRACK_ORDER, "worker", "--concurrency", "100"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=(cwd / f"{name}.log").open("wb"),
    )


async def _wait_ready(proc: subprocess.Popen[bytes], log) -> None:
    while b"Worker on " not in log.read_bytes():  # said once it polls the queue
        assert proc.poll() is None, log.read_text()
        await asyncio.sleep(0.1)


async def test_a_killed_workers_agent_runs_move_to_another_worker(
    temporal_address, tmp_path, tracing, trace_dir
):
    queue = f"recovery-{uuid.uuid4().hex[:8]}"
    first = _worker(temporal_address, queue, tmp_path, "first", trace_dir)
    second = None
    try:
        await _wait_ready(first, tmp_path / "first.log")
        client = await connect(temporal_address, "default")
        ids = ["ORD-1001", "ORD-1002", "ORD-1003"]
        handles, trace_ids = [], []
        for n in range(ORDERS):
            request = OrderRequest(
                order_id=ids[n % 3], agents=list(SPECIALIST_NAMES), deadline_s=30
            )
            with tracing.trace("order_tracking_temporal", {"order_id": request.order_id}) as tid:
                trace_ids.append(tid)
                handles.append(
                    await submit(
                        client, request, key=f"k{n}", task_queue=queue, priority=3, trace_id=tid
                    )
                )
        await asyncio.sleep(1.0)  # agent runs are in flight on the first worker (0.5 s a call)
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait()
        second = _worker(temporal_address, queue, tmp_path, "second", trace_dir)
        fetched = await asyncio.gather(*(report(h, ids[n % 3]) for n, h in enumerate(handles)))
        recovered_s = time.monotonic() - killed_at
        reports = [order for order, _ in fetched]
        assert [trace_id for _, trace_id in fetched] == trace_ids
        for n, order in enumerate(reports):
            answers = {r.agent: r.text for r in order.results}
            assert all(r.ok for r in order.results), [
                (r.agent, r.status, r.error) for r in order.results if not r.ok
            ]
            if ids[n % 3] == "ORD-1001":
                assert answers == ARTICLE_ANSWERS
        assert sum(len(r.results) for r in reports) == ORDERS * 5
        repeated = 0
        for handle in handles:
            history = await handle.fetch_history()
            starts = [
                e for e in history.events if e.HasField("activity_task_started_event_attributes")
            ]
            assert len(starts) == 5  # one completed run per agent: exactly once per workflow
            repeated += sum(e.activity_task_started_event_attributes.attempt > 1 for e in starts)
        tracing.flush()
        # Checked while the worker runs: it writes its part of a trace when the part is done,
        # never holding it until exit for a root that lives in another process.
        runs = lost = twice = 0
        for n, trace_id in enumerate(trace_ids):
            agents, orphans, repeated_spans = await _complete_trace(trace_dir, trace_id, ids[n % 3])
            runs, lost, twice = runs + agents, lost + orphans, twice + repeated_spans
        print(
            f"\nrecovery: {repeated} of {ORDERS * 5} agent runs repeated; "
            f"last order done {recovered_s:.1f}s after the kill; "
            f"{runs} agent runs in the {ORDERS} traces; {lost} spans orphaned by the kill, "
            f"{twice} workflow spans recorded twice"
        )
        assert repeated > 0  # the kill did land mid-batch
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)


async def _complete_trace(folder, trace_id: str, order_id: str) -> tuple[int, int, int]:
    """The trace's agent runs once its parts are all written (a worker's writer thread may
    still be at it for a moment after the order's result)."""
    for _ in range(50):
        try:
            return _check_trace(folder, trace_id, order_id)
        except AssertionError:
            await asyncio.sleep(0.1)
    return _check_trace(folder, trace_id, order_id)


def _check_trace(folder, trace_id: str, order_id: str) -> tuple[int, int, int]:
    """One order's trace, merged from the test's part and the workers', held to what a SIGKILL
    leaves guaranteed, and no more:

    - a worker writes a workflow task's spans as they end, on its writer thread, not before
      the task is reported: the killed worker loses those it had not written yet, and a task
      it ran but never reported runs again on the other worker (its spans then twice);
    - a worker reports an agent run only once that run's part is written (``PartsWritten``):
      every agent's answer is in the trace.

    So: the submit's span is the one root that is the order's; any other root is a span whose
    parent was lost with the killed worker (its parent is in no file); the workflow's run and
    completion spans are there at most twice; every agent is there, answered. (Asserting the
    workflow spans exactly once, or a single root, failed under load: an orphan root without
    an order id, ``CompleteWorkflow`` twice.) Returns its agent runs, its roots orphaned by
    the kill and its workflow spans recorded twice."""
    [root_file, *_] = trace_parts(folder, trace_id)
    trace = load_trace(root_file)
    assert len(trace.parts) >= 2, trace.parts  # the submit's part and at least one worker's
    spans = {span.span_id for _, span in trace.walk()}
    orders = [root for root in trace.roots if "order_id" in root.attributes]
    assert [(root.kind, root.attributes["order_id"]) for root in orders] == [("workflow", order_id)]
    lost = [root for root in trace.roots if root is not orders[0]]
    assert all(root.parent_id and root.parent_id not in spans for root in lost), [
        (root.name, root.parent_id) for root in lost
    ]
    names = [span.name for _, span in trace.walk()]
    assert names.count("RunWorkflow:TrackOrder") <= 2, names
    assert names.count("CompleteWorkflow:TrackOrder") <= 2, names
    agents = trace.agents()
    # A run cut short by the kill was never written; a run that finished on the killed worker
    # but was not reported in time ran again, and both runs are in the trace.
    assert {a.entity for a in agents} == set(SPECIALIST_NAMES)
    assert all(a.result and a.result["status"] == "ok" for a in agents)
    twice = sum(
        names.count(n) == 2 for n in ("RunWorkflow:TrackOrder", "CompleteWorkflow:TrackOrder")
    )
    return len(agents), len(lost), twice


async def test_under_a_backlog_higher_priority_orders_are_served_first(
    temporal_address, temporal_app
):
    from temporal_server import WorkerThread

    queue = f"priority-{uuid.uuid4().hex[:8]}"
    client = await connect(temporal_address, "default")
    submitted = []
    # The backlog forms before any worker polls: 8 orders at priority 5, then 2 at priority 1.
    for n, priority in enumerate([5] * 8 + [1] * 2):
        request = OrderRequest(order_id="ORD-1001", agents=list(SPECIALIST_NAMES), deadline_s=30)
        handle = await submit(
            client, request, key=f"{queue}-{n}", task_queue=queue, priority=priority
        )
        submitted.append((priority, handle))
    with WorkerThread(temporal_app, temporal_address, queue, concurrency=1):
        closed = []
        for priority, handle in submitted:
            await handle.result()
            closed.append(((await handle.describe()).close_time, priority))
    order = [priority for _, priority in sorted(closed)]
    # Submitted last, served among the first: first-in-first-out would finish them last.
    # Temporal's priority allows small deviations (a task the worker had already fetched, the
    # activity tasks of an order already started: seen once in CI as [1, 5, 5, 1, ...]).
    assert order[:4].count(1) == 2, order


async def test_runs_started_per_second_are_capped_across_the_task_queue(
    temporal_address, temporal_app
):
    """--max-runs-per-second 2: ten agent runs (two orders) start over ~4.5 s, where without
    the cap all ten start within a fraction of a second."""
    from temporal_server import WorkerThread

    queue = f"rate-{uuid.uuid4().hex[:8]}"
    client = await connect(temporal_address, "default")
    handles = []
    for n in range(2):
        request = OrderRequest(order_id="ORD-1001", agents=list(SPECIALIST_NAMES), deadline_s=30)
        handles.append(
            await submit(client, request, key=f"{queue}-{n}", task_queue=queue, priority=3)
        )
    with WorkerThread(temporal_app, temporal_address, queue, runs_per_second=2.0):
        for handle in handles:
            await handle.result()
    starts = []
    for handle in handles:
        history = await handle.fetch_history()
        starts += [
            event.event_time.ToNanoseconds() / 1e9
            for event in history.events
            if event.HasField("activity_task_started_event_attributes")
        ]
    starts.sort()
    assert len(starts) == 10
    assert starts[-1] - starts[0] >= 3.0, starts  # 9 gaps of 0.5 s, less any burst
