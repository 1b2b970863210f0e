"""How a ``track-order`` process lives and ends: exit codes, signals, and the fast exit.

- Before the event loop runs (imports, set-up), SIGTERM raises :class:`Terminated` so the
  command ends with one line and 143, like Ctrl-C does with 130.
- While it runs, :func:`until_signalled` turns the first SIGINT/SIGTERM into a stop event (the
  work in flight is cancelled and its results and traces completed); a second one exits at
  once.
- :func:`exit_fast` leaves without the interpreter's teardown once output and traces are
  flushed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

from .logs import say

__all__ = [
    "EXIT_AGENT_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "Terminated",
    "exit_fast",
    "exit_interrupted",
    "warn_trace_files",
    "sigterm_raises",
    "until_signalled",
]

EXIT_OK, EXIT_AGENT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")


class Terminated(BaseException):
    """SIGTERM before the event loop took over (imports, set-up)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`Terminated` (the event loop, once running,
    installs its own handler through :func:`until_signalled`)."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_interrupted(signum: int) -> NoReturn:
    """One line on stderr and the conventional exit code (128 + the signal)."""
    # Interrupted mid-set-up, a coroutine may never have been awaited: its warning is noise.
    warnings.simplefilter("ignore", RuntimeWarning)
    say(f"Interrupted by {signal.Signals(signum).name}.", logging.WARNING)
    sys.exit(128 + signum)


async def until_signalled(
    run: Callable[[asyncio.Event], Awaitable[T]], on_force: Callable[[], None] | None = None
) -> tuple[T, int | None]:
    """Await ``run(stop)``; SIGINT/SIGTERM set ``stop``, which cancels the work still running
    while the results and traces are completed. Returns what ``run`` returned and the signal
    that stopped it, if any. A second signal exits at once (after ``on_force``)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:
            if on_force:
                on_force()
            os._exit(128 + signum)
        received.append(signum)
        stop.set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        outcome = await run(stop)
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
    return outcome, received[0] if received else None


def warn_trace_files(failure: str) -> None:
    """The one line that says trace files were not written, and why."""
    say(f"Warning: trace files were not written ({failure}).", logging.WARNING)


def exit_fast(main: Callable[[], object]) -> NoReturn:
    """Run ``main`` (which may raise SystemExit), flush the traces, and leave.

    Once the output and the traces are flushed there is nothing left to do, and tearing down
    the interpreter's few thousand modules would cost a noticeable part of a second."""
    try:
        main()
        code: Any = EXIT_OK
    except SystemExit as exc:
        code = exc.code
    if "order_tracking.tracing.setup" in sys.modules:
        from ..tracing.setup import shut_down

        # Anything not yet written, and the Okahu upload, bounded.
        for failure in shut_down():
            warn_trace_files(failure)
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = EXIT_OK if code is None else EXIT_AGENT_FAILED
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
