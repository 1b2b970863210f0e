"""Big batches over several processes: ``track-order --workers N``.

One event loop tops out at a few dozen agent runs a second (ADK's and LiteLLM's own CPU), so
the parent hands the orders to N worker processes, each with its own event loop, tracing and
circuit breakers, and renders their results as they arrive.

The batch streams: the next id is read only when a worker has room (at most as many orders as
it has agent-run slots), so memory is flat in the number of orders and a faster worker gets
more. Each worker has its own inbox and its own pipe back, so one that dies mid-message harms
no other. The parent records who holds which order before handing it over: a worker that dies
leaves none of its orders unreported (what arrived, and errors for the rest); orders not yet
handed out go to the workers left (if none is left, they are counted as not started).

Workers are forked after the parent has warmed up (spawned where fork is unsafe or missing)
and die with the parent, however it dies. The parent owns the signals: the first SIGINT or
SIGTERM stops handing out orders and cancels those in flight (their traces still close); a
second one exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from ...composition import build
from ...core.results import (
    AgentResult,
    BatchSummary,
    OrderReport,
    ReportCallback,
    ResultCallback,
    Status,
)
from ...core.settings import Settings
from .child import STOP, Builder, Job, worker_main

log = logging.getLogger("order_tracking.workers")


def _context() -> Any:
    # Fork shares the parent's warmed-up imports for free, but is only safe with one thread.
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _read(connection: Connection, drain: bool) -> Iterator[Any]:
    """The messages waiting on ``connection`` (all of them with ``drain``, else one);
    ``None`` for its end (the worker is gone) or for what cannot be read (it died mid-send)."""
    while True:
        try:
            if drain and not connection.poll():
                return
            yield connection.recv()
        except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
            yield None
            return
        if not drain:
            return


def _salvaged_report(
    order_id: str, agent_names: Sequence[str], arrived: dict[str, AgentResult], why: str
) -> OrderReport:
    """An order whose worker died: the results that arrived, an error for the rest."""
    results = tuple(
        arrived.get(name) or AgentResult(name, Status.ERROR, "", why, 0.0) for name in agent_names
    )
    return OrderReport(order_id, results, max((r.elapsed_s for r in results), default=0.0))


def split(workers: int, concurrency: int, orders: int | None = None) -> list[int]:
    """Each worker's agent-run slots. ``concurrency`` is the total: a worker runs at least one
    agent at a time, so there are never more workers than slots (nor than orders, when
    known), and the slots are shared out exactly."""
    used = max(1, min(workers, concurrency, orders if orders is not None else workers))
    return [concurrency // used + (w < concurrency % used) for w in range(used)]


class Pool:
    """Worker processes started (forked) up front; :meth:`collect` hands them the orders and
    gathers their results."""

    def __init__(
        self,
        settings: Settings,
        workers: int,
        *,
        concurrency: int,
        orders: int | None = None,
        build: Builder = build,
    ) -> None:
        context = _context()
        parent = os.getpid()
        self.jobs = [
            Job(w, settings, slots, build, parent)
            for w, slots in enumerate(split(workers, concurrency, orders))
        ]
        self.inboxes = [context.Queue() for _ in self.jobs]
        self.results: list[Connection] = []  # each worker's own pipe back to the parent
        self.processes: list[Any] = []
        for job, inbox in zip(self.jobs, self.inboxes, strict=True):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=worker_main, args=(job, inbox, writer), daemon=True)
            process.start()
            writer.close()  # only the worker holds it now: its death is the pipe's end
            inbox.cancel_join_thread()  # a dead worker never reads: exiting must not wait on it
            self.results.append(reader)
            self.processes.append(process)

    async def collect(
        self,
        order_ids: Iterable[str],
        agent_names: Sequence[str],
        *,
        stop: asyncio.Event | None = None,
        on_result: ResultCallback | None = None,
        on_report: ReportCallback | None = None,
    ) -> BatchSummary:
        """Hand out ``order_ids`` as workers have room; results and reports as they arrive.

        Setting ``stop`` hands out no more and asks every worker to stop. A worker that fails
        or dies is reported in the agent results of each order it held."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[tuple[str, int, Any, Any]] = asyncio.Queue()
        finished = threading.Event()

        def forward(message: tuple[str, int, Any, Any]) -> bool:
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, message)
            except RuntimeError:  # the loop is closed: the batch is over
                return False
            return True

        def pump() -> None:
            """Each worker's messages in order, off its own pipe; when it exits, whatever it
            had sent, then ``exited``. Never fails silently: a failure here ends every
            worker's part, reported as such."""
            live = dict(enumerate(zip(self.results, self.processes, strict=True)))
            try:
                while live and not finished.is_set():
                    ready = set(wait([*self.results, *(p.sentinel for _, p in live.values())], 0.2))
                    for index, (connection, process) in list(live.items()):
                        if connection in ready or process.sentinel in ready:
                            exited = process.sentinel in ready
                            for message in _read(connection, drain=exited):
                                if message is None:  # end of the pipe, or garbage in it
                                    exited = True
                                elif not forward(message):
                                    return
                            if exited:
                                del live[index]
                                process.join(1)  # reaped: its exit code says how it ended
                                if not forward(("exited", index, None, None)):
                                    return
            except Exception:  # noqa: BLE001 - the batch must end, not hang
                log.exception("reading the workers' results failed")
                for index in live:
                    forward(("exited", index, None, None))

        batch = _Batch(self, iter(enumerate(order_ids)), agent_names, on_result, on_report)
        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            batch.hand_out()
            while not batch.over():
                getter = asyncio.ensure_future(inbox.get())
                waiting = {getter, stopper} if stopper and not stopper.done() else {getter}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    batch.stop()
                if getter in done:
                    batch.receive(*getter.result())
                else:
                    getter.cancel()
        finally:
            finished.set()
            if stopper:
                stopper.cancel()
            batch.stop()  # whatever ended the batch, no worker waits for more
            # Off the event loop: a second Ctrl-C must still be heard while workers finish.
            await loop.run_in_executor(None, self._join)
        return batch.summary

    def _join(self) -> None:
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()

    def kill(self) -> None:
        """At once (a second signal): no waiting for anything."""
        for process in self.processes:
            if process.is_alive():
                process.kill()


class _Batch:
    """The parent's book of a streamed batch: which worker holds which order, what has
    arrived of each order in flight, which workers are still there."""

    def __init__(
        self,
        pool: Pool,
        ids: Iterator[tuple[int, str]],
        agent_names: Sequence[str],
        on_result: ResultCallback | None,
        on_report: ReportCallback | None,
    ) -> None:
        self.pool, self.ids, self.agent_names = pool, ids, agent_names
        self.on_result, self.on_report = on_result, on_report
        self.held: list[dict[int, str]] = [{} for _ in pool.jobs]  # worker -> position: id
        self.arrived: dict[int, dict[str, AgentResult]] = {}  # only orders in flight
        self.live = set(range(len(pool.jobs)))
        self.failures: dict[int, str] = {}
        self.handing_out = True
        self.summary = BatchSummary()

    def hand_out(self) -> None:
        """Give orders to the workers with room, the least busy first; at the end of the ids
        (or on stop), tell every worker there are no more."""
        while self.handing_out and self.live:
            worker = min(self.live, key=lambda w: len(self.held[w]) / self.pool.jobs[w].concurrency)
            if len(self.held[worker]) >= self.pool.jobs[worker].concurrency:
                return
            item = next(self.ids, None)
            if item is None:
                self._no_more()
                return
            self.held[worker][item[0]] = item[1]
            self.pool.inboxes[worker].put(item)

    def stop(self) -> None:
        """No more orders, and the ones in flight cancelled (their reports say so)."""
        if self.handing_out:
            for worker in self.live:
                self.pool.inboxes[worker].put(STOP)
        self._no_more()

    def _no_more(self) -> None:
        if self.handing_out:
            self.handing_out = False
            for worker in self.live:
                self.pool.inboxes[worker].put(None)

    def over(self) -> bool:
        return not self.live or (not self.handing_out and not any(self.held))

    def receive(self, kind: str, worker: int, position: Any, payload: Any) -> None:
        if kind == "result":
            order_id = self.held[worker].get(position)
            if order_id is None:  # its order was already reported (salvaged): nothing to add
                return
            self.arrived.setdefault(position, {})[payload.agent] = payload
            if self.on_result:
                self.on_result(order_id, payload)
        elif kind == "report":
            if self.held[worker].pop(position, None) is None:
                return
            self.arrived.pop(position, None)
            self._report(payload)
            self.hand_out()
        elif kind == "failed":
            self.failures[worker] = payload
        elif kind in ("done", "exited") and worker in self.live:
            self.live.discard(worker)
            self._salvage(worker)
            self.hand_out()

    def _salvage(self, worker: int) -> None:
        """Whatever the worker still held: what arrived, and why the rest did not."""
        if worker in self.failures:
            why = f"worker {worker} failed: {self.failures[worker]}"
        else:
            code = self.pool.processes[worker].exitcode
            how = (
                f"killed by {signal.Signals(-code).name}"
                if code is not None and code < 0
                else f"exit code {code}"
            )
            why = f"worker {worker} died ({how}) before this agent answered"
        for position, order_id in self.held[worker].items():
            arrived = self.arrived.pop(position, {})
            self._report(_salvaged_report(order_id, self.agent_names, arrived, why))
        self.held[worker].clear()

    def _report(self, report: OrderReport) -> None:
        self.summary.add(report)
        if self.on_report:
            self.on_report(report)
