"""A statistical profiler inside the measured process: a thread that wakes every few
milliseconds and records the main thread's Python stack (``sys._current_frames``).

Why not py-spy: on these VMs it falls seconds behind and its samples were visibly biased (it
put ~4% of a batch in ``inspect.signature``, which cProfile counts at 383 calls and 0.1% of the
time). Here, a sample is taken when the main thread lets go of the GIL, which a CPU-bound
thread does every switch interval (5 ms), so samples fall evenly over its running time; a
sample whose innermost frame is the event loop's ``select`` is idle and not counted.

    sampler = Sampler(); sampler.start(); ...; sampler.stop(); sampler.stacks  # Counter

The other threads (the trace writer, LiteLLM's logging pool, asyncio's ``to_thread`` pool) are
not sampled: their CPU time over the same stretch is read from ``/proc`` (``threads``).
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from pathlib import Path

__all__ = ["Sampler"]

_IDLE = {("selectors.py", "select")}


class Sampler:
    def __init__(self, interval_s: float = 0.004) -> None:
        self.interval_s = interval_s
        self.stacks: collections.Counter[tuple[tuple[str, str], ...]] = collections.Counter()
        self.idle = 0
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self._cpu_at_start = _thread_cpu()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        end = _thread_cpu()
        # CPU seconds per thread name over the stretch (threads of a pool add up).
        self.threads: collections.Counter[str] = collections.Counter()
        for ident, (name, seconds) in end.items():
            self.threads[name] += seconds - self._cpu_at_start.get(ident, (name, 0.0))[1]

    def _run(self) -> None:
        while not self._stop.is_set():
            time.sleep(self.interval_s)
            frame = sys._current_frames().get(self._main)
            stack: list[tuple[str, str]] = []
            while frame is not None:
                code = frame.f_code
                stack.append((code.co_filename, code.co_name))
                frame = frame.f_back
            if not stack:
                continue
            if (stack[0][0].rsplit("/", 1)[-1], stack[0][1]) in _IDLE:
                self.idle += 1
                continue
            self.stacks[tuple(reversed(stack))] += 1

    def raw(self) -> str:
        """py-spy's raw format (outermost first, ``;``-separated), for ``cost.component``,
        after a line per thread: ``#thread NAME CPU_SECONDS``."""
        threads = [f"#thread {name} {seconds:.3f}" for name, seconds in self.threads.items()]
        stacks = [
            ";".join(f"{name} ({path}:0)" for path, name in stack) + f" {count}"
            for stack, count in self.stacks.items()
        ]
        return "\n".join(threads + stacks)


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """Each live thread's CPU seconds (user + system) from /proc, by its native id."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    found = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        tid = int(task.name)
        name = "main" if tid == os.getpid() else names.get(tid, "other")
        name = name.rstrip("0123456789_") or name  # a pool's threads under one name
        found[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return found
