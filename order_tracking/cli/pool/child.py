"""One worker process of ``track-order --workers N`` (see ``__init__.py`` for the parent): it
builds its own App, runs the orders it is handed, sends every result and report back, and
never outlives its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...async_runner.app import App
from ...core.settings import Settings

__all__ = ["Builder", "Job", "worker_main"]

# In the worker: settings -> the App that runs its orders (the composition root's by default).
Builder = Callable[[Settings], App]


@dataclass(frozen=True)
class Job:
    index: int
    settings: Settings
    concurrency: int  # agent-run slots, and the most orders it is handed at once
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


# On the inbox: an order is ``(position, order_id)``; ``STOP`` cancels the orders in flight;
# ``None`` means there are no more (the worker finishes what it has and exits).
STOP = "stop"


def worker_main(job: Job, inbox: Any, outbox: Any) -> None:
    """A worker process: run the orders it is handed (``inbox``, from the parent alone),
    send every result and report back on its own pipe (``outbox``, written by no other
    process). Nothing else is shared, so a process that dies holds nothing another waits on."""
    _die_with_parent(job.parent)
    # Ctrl-C reaches every process of the terminal's group: the parent decides for all.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        tracker = job.build(job.settings)
        asyncio.run(_run_orders(job, tracker, inbox, outbox))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which carries on
        from ...models.resilience import describe_error

        outbox.send(("failed", job.index, None, describe_error(exc)))
    finally:
        if "order_tracking.tracing.setup" in sys.modules:
            from ...tracing.setup import shut_down

            shut_down()  # a worker exits without running atexit handlers
        outbox.send(("done", job.index, None, None))


async def _run_orders(job: Job, tracker: App, inbox: Any, outbox: Any) -> None:
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(job.concurrency)

    async def one(position: int, order_id: str) -> None:
        report = await tracker.track_order(
            order_id,
            stop=stopping,
            gate=gate,
            on_result=lambda _order, result: outbox.send(("result", job.index, position, result)),
        )
        outbox.send(("report", job.index, position, report))

    try:
        async with asyncio.TaskGroup() as group:
            while (item := await asyncio.to_thread(inbox.get)) is not None:
                if item == STOP:
                    stopping.set()
                else:
                    group.create_task(one(*item))
    finally:
        await tracker.aclose()
