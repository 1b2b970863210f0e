"""The spend windows in this process (``SPEND_LIMIT_STORE=memory``, the default)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ._rules import (
    DAY,
    HOUR,
    NANOS,
    WINDOWS,
    Hold,
    Limits,
    Refusal,
    Spent,
    Window,
    blocked,
    frees_at,
    refusal,
)

__all__ = ["MemoryStore"]


class _Slots:
    """One window's spend by slot, oldest first, with running totals."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.slots: deque[list[int]] = deque()
        self.tokens = self.nanos = 0

    def expire(self, now: float) -> None:
        while self.slots and self.window.ends(self.slots[0][0]) <= now:
            _, tokens, cost = self.slots.popleft()
            self.tokens -= tokens
            self.nanos -= cost

    def add(self, slot: int, tokens: int, cost: int, *, new: bool) -> None:
        """Charge a slot (``new``: the current one, made if need be); a slot that has left
        the window takes nothing (its spend is gone)."""
        if new and (not self.slots or self.slots[-1][0] < slot):
            self.slots.append([slot, 0, 0])
        for entry in reversed(self.slots):  # the slot is recent: found within a few steps
            if entry[0] == slot:
                entry[1] += tokens
                entry[2] += cost
                self.tokens += tokens
                self.nanos += cost
                return
            if entry[0] < slot:
                return


class MemoryStore:
    """The windows in this process (``SPEND_LIMIT_STORE=memory``): N processes may spend N
    times the limits. ``clock`` is monotonic seconds (tests pass their own). Thread-safe."""

    shared = False

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        self._windows = {w: _Slots(w) for w in WINDOWS}
        self._lock = threading.Lock()
        # When the windows free up for a need, worked out at its first refusal (a walk over
        # up to 3,600 slots) and kept until the next charge: the refusals that follow, which
        # come when clients retry, cost what an admitted check does.
        self._free_at: dict[tuple[int, int, int], float] = {}

    def reserve_now(self, tokens: int, cost: int, what: str = "model calls") -> Hold | Refusal:
        with self._lock:
            now = self.clock()
            full = self._full(now, (tokens, cost)) if self.limits.enabled else []
            if full:
                return refusal(full, now, what)
            hold = Hold((HOUR.slot(now), DAY.slot(now)), tokens, cost)
            self._add(hold.slots, tokens, cost, new=True)
            return hold

    def settle_now(self, hold: Hold, tokens: int, cost: int) -> None:
        if tokens != hold.tokens or cost != hold.nanos:
            with self._lock:
                self._add(hold.slots, tokens - hold.tokens, cost - hold.nanos, new=False)

    def charge_now(self, tokens: int, cost: int) -> None:
        """Spend that happened, whatever the limits say (nothing was asked before it)."""
        with self._lock:
            now = self.clock()
            self._add((HOUR.slot(now), DAY.slot(now)), tokens, cost, new=True)

    def check_now(self, what: str = "new orders") -> Refusal | None:
        if not self.limits.enabled:
            return None
        with self._lock:
            now = self.clock()
            full = self._full(now, (0, 0))
        return refusal(full, now, what) if full else None

    def seen(self) -> Spent:
        with self._lock:
            now = self.clock()
            hour, day = self._windows[HOUR], self._windows[DAY]
            hour.expire(now)
            day.expire(now)
            return Spent(hour.tokens, hour.nanos / NANOS, day.tokens, day.nanos / NANOS)

    def _add(self, slots: tuple[int, int], tokens: int, cost: int, *, new: bool) -> None:
        """Charge the slots (with the lock held). ``new``: a reservation, whose slots are
        made even for nothing (an estimate of nothing is settled later, into them)."""
        if tokens or cost or new:
            for window, slot in zip(WINDOWS, slots, strict=True):
                if new:  # the windows stay a window long whether or not anyone asks
                    self._windows[window].expire(self.clock())
                self._windows[window].add(slot, tokens, cost, new=new)
            self._free_at.clear()

    def _full(self, now: float, need: tuple[int, int]) -> list[tuple[float, str]]:
        full = []
        for slots in self._windows.values():
            slots.expire(now)
            used = (slots.tokens, slots.nanos)
            reason = blocked(slots.window, self.limits, used, need)
            if reason is None:
                continue
            key = (slots.window.seconds, *need)
            if key not in self._free_at:  # expiring slots before then does not move it
                self._free_at[key] = self._frees_at(slots.window, used, need, slots.slots)
            full.append((self._free_at[key], reason))
        return full

    def _frees_at(
        self, window: Window, used: tuple[int, int], need: tuple[int, int], slots: Any
    ) -> float:
        return frees_at(window, self.limits, used, need, slots)

    async def reserve(self, tokens: int, cost: int, what: str = "model calls") -> Hold | Refusal:
        return self.reserve_now(tokens, cost, what)

    async def settle(self, hold: Hold, tokens: int, cost: int) -> None:
        self.settle_now(hold, tokens, cost)

    async def check(self) -> Refusal | None:
        return self.check_now()

    async def spent(self) -> Spent:
        return self.seen()

    async def aclose(self) -> None:
        pass
