"""Big batches over several processes: ``track-order --workers N``.

An agent run costs tens of milliseconds of CPU in ADK's and LiteLLM's own machinery, all on
one core per event loop; past a few dozen runs a second that core is the limit, not the
provider. Here the parent splits the orders between N worker processes, each with its own
event loop, tracing and circuit breakers, and renders their results as they arrive.

Workers are forked after the parent has imported and warmed everything up (fork is used only
while the parent has no other thread; otherwise, and where fork does not exist, they are
spawned and import for themselves). The parent owns the signals: the first SIGINT/SIGTERM
asks every worker to stop (finished results are kept, the rest say cancelled, every trace is
closed); a second one exits at once. A worker that dies leaves no order unreported: its
missing orders come back as errors.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue as queue_module
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .app import App, build
from .config import Settings
from .results import AgentResult, OrderReport, ReportCallback, ResultCallback, Status

# In the worker: settings -> the App that runs its orders (the composition root's by default).
Builder = Callable[[Settings], App]


@dataclass(frozen=True)
class _Job:
    index: int
    items: tuple[tuple[int, str], ...]  # (position in the batch, order id)
    settings: Settings
    concurrency: int
    build: Builder
    parent: int  # the parent's pid: a worker never outlives it


def _die_with_parent(parent: int) -> None:
    """However the parent dies (SIGKILL, the OOM killer), its workers die too rather than
    keep calling the provider for nobody: on Linux the kernel kills them at once
    (``PR_SET_PDEATHSIG``); elsewhere a thread notices within half a second."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    else:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # it died before the request above was in place
        os._exit(1)


def _worker(job: _Job, outbox: Any, stop: Any) -> None:
    """A worker process: run its orders, send every result and report to the parent."""
    _die_with_parent(job.parent)
    # Ctrl-C reaches every process of the terminal's group: the parent decides for all.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        tracker = job.build(job.settings)
        asyncio.run(_run_share(job, tracker, outbox, stop))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which carries on
        from .resilience import describe_error

        outbox.put(("failed", job.index, describe_error(exc)))
    finally:
        if "order_tracking.tracing" in sys.modules:
            from .tracing import shut_down

            shut_down()  # a worker exits without running atexit handlers
        outbox.put(("done", job.index, None))


async def _run_share(job: _Job, tracker: App, outbox: Any, stop: Any) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def watch() -> None:  # the parent's stop request, from another process
        stop.wait()
        loop.call_soon_threadsafe(stopping.set)

    threading.Thread(target=watch, daemon=True).start()
    gate = asyncio.Semaphore(job.concurrency)

    async def one(position: int, order_id: str) -> None:
        report = await tracker.track_order(
            order_id,
            stop=stopping,
            gate=gate,
            on_result=lambda _order, result: outbox.put(("result", position, result)),
        )
        outbox.put(("report", position, report))

    async with asyncio.TaskGroup() as group:
        for position, order_id in job.items:
            group.create_task(one(position, order_id))


def _context() -> Any:
    # Fork shares the parent's warmed-up imports for free, but is only safe with one thread.
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _salvaged_report(
    order_id: str, agent_names: Sequence[str], arrived: dict[str, AgentResult], why: str
) -> OrderReport:
    """An order whose worker died: the results that arrived, an error for the rest."""
    results = tuple(
        arrived.get(name) or AgentResult(name, Status.ERROR, "", why, 0.0) for name in agent_names
    )
    return OrderReport(order_id, results, max((r.elapsed_s for r in results), default=0.0))


def split(orders: int, workers: int, concurrency: int) -> list[tuple[range, int]]:
    """Each worker's orders (positions, round-robin) and its agent-run slots. ``concurrency``
    is the total: a worker runs at least one agent at a time, so there are never more workers
    than slots (nor than orders), and the slots are shared out exactly."""
    used = max(1, min(workers, concurrency, orders))
    return [
        (range(w, orders, used), concurrency // used + (w < concurrency % used))
        for w in range(used)
    ]


class Pool:
    """Worker processes started (forked) up front; :meth:`collect` gathers their results."""

    def __init__(
        self,
        order_ids: Sequence[str],
        settings: Settings,
        workers: int,
        *,
        concurrency: int,
        build: Builder = build,
    ) -> None:
        context = _context()
        self.order_ids = list(order_ids)
        self.outbox = context.Queue()
        self.stop = context.Event()
        parent = os.getpid()
        self.jobs = [
            _Job(
                w, tuple((p, self.order_ids[p]) for p in positions), settings, slots, build, parent
            )
            for w, (positions, slots) in enumerate(split(len(self.order_ids), workers, concurrency))
        ]
        self.processes = [
            context.Process(target=_worker, args=(job, self.outbox, self.stop), daemon=True)
            for job in self.jobs
        ]
        for process in self.processes:
            process.start()

    async def collect(
        self,
        agent_names: Sequence[str],
        *,
        stop: asyncio.Event | None = None,
        on_result: ResultCallback | None = None,
        on_report: ReportCallback | None = None,
    ) -> list[OrderReport]:
        """Results and reports as they arrive; reports in the orders' order at the end.

        Setting ``stop`` asks every worker to stop. A worker that fails or dies is reported
        in the agent results of each order it had not finished."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()

        def pump() -> None:  # blocking reads off the multiprocessing queue, into the loop
            while True:
                try:
                    message = self.outbox.get(timeout=0.2)
                except queue_module.Empty:
                    if all(not p.is_alive() for p in self.processes):
                        message = ("exited", -1, None)
                    else:
                        continue
                loop.call_soon_threadsafe(inbox.put_nowait, message)
                if message[0] == "exited":
                    return

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
        reports: dict[int, OrderReport] = {}
        arrived: dict[int, dict[str, AgentResult]] = {}  # kept until the order's report
        failures: dict[int, str] = {}
        done: set[int] = set()
        try:
            while len(done) < len(self.jobs):
                getter = asyncio.ensure_future(inbox.get())
                waiting = {getter, stopper} if stopper and not stopper.done() else {getter}
                finished, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopper in finished:
                    self.stop.set()
                if getter not in finished:
                    getter.cancel()
                    continue
                kind, key, payload = getter.result()
                if kind == "result":
                    arrived.setdefault(key, {})[payload.agent] = payload
                    if on_result:
                        on_result(self.order_ids[key], payload)
                elif kind == "report":
                    reports[key] = payload
                    arrived.pop(key, None)
                    if on_report:
                        on_report(payload)
                elif kind == "failed":
                    failures[key] = payload
                elif kind == "done":
                    done.add(key)
                elif kind == "exited":  # every process is gone, some without saying so
                    break
        finally:
            if stopper:
                stopper.cancel()
            for process in self.processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.kill()
        for job, process in zip(self.jobs, self.processes, strict=True):
            if job.index in failures:
                why = f"worker {job.index} failed: {failures[job.index]}"
            else:
                code = process.exitcode
                how = (
                    f"killed by {signal.Signals(-code).name}"
                    if code is not None and code < 0
                    else f"exit code {code}"
                )
                why = f"worker {job.index} died ({how}) before this agent answered"
            for position, order_id in job.items:
                if position not in reports:
                    got = arrived.get(position, {})
                    reports[position] = _salvaged_report(order_id, agent_names, got, why)
                    if on_report:
                        on_report(reports[position])
        return [reports[p] for p in range(len(self.order_ids))]

    def kill(self) -> None:
        """At once (a second signal): no waiting for anything."""
        for process in self.processes:
            if process.is_alive():
                process.kill()
