"""What the whole process may spend in any hour: ``MAX_COST_USD_PER_HOUR`` and
``MAX_TOKENS_PER_HOUR``, over a rolling window.

Every model call is checked before it is made and settled after (by ``models.meter``'s
``ModelMeter``, an attempt guard): :meth:`SpendLimit.admit` holds an estimate (the average
call so far) while the call is in flight and refuses the call once the hour's spend plus what
the calls in flight hold reaches a limit; :meth:`SpendLimit.settle` charges what the call
really used (what the provider billed, accepted or not). So the spend passes a limit by at
most the calls already in flight when it was reached. An order is admitted only while the
last hour's spend is under both limits; once one is reached, new orders are refused at once,
with when the window will have freed up enough to take one (never more than the window).

The limit is per process: N workers or replicas may spend N times it together.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Hold", "Refusal", "SpendLimit"]

WINDOW_S = 3600.0


@dataclass(frozen=True)
class Refusal:
    """Why no new order may start now, and in how many seconds one may."""

    reason: str
    retry_after_s: float

    @property
    def retry_after_header(self) -> str:
        """``Retry-After``: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(frozen=True)
class Hold:
    """What an admitted call's estimate holds of the limits until it is settled."""

    tokens: int = 0
    cost: Fraction = Fraction(0)


class SpendLimit:
    """A rolling hour of spend in one-second buckets (at most 3,600 of them whatever the
    traffic), checked before each order. ``clock`` is monotonic seconds (tests pass their
    own). Thread-safe: the Temporal worker's activities and the service's requests charge it
    from one event loop, the benchmark's workers from several threads."""

    def __init__(
        self,
        *,
        max_cost_usd: float = 0.0,
        max_tokens: int = 0,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_cost_usd, self.max_tokens = max_cost_usd, max_tokens
        self.window_s, self.clock = window_s, clock
        # [second, tokens, cost], oldest first. Costs are exact (a float's Fraction is exact):
        # with float sums, whether the window is "over" and when it frees up would hang on
        # rounding, e.g. $0.29 + $0.50 - $0.29 comes out under a $0.50 limit.
        self._buckets: deque[list] = deque()
        self._tokens, self._cost = 0, Fraction(0)  # the window's totals, kept as it moves
        self._max_cost = Fraction(max_cost_usd)
        # When the window frees up, worked out at the first refusal (a walk over up to 3,600
        # buckets) and kept until the next charge: the refusals that follow, which come when
        # clients retry, cost what an admitted check does.
        self._free_at: float | None = None
        # What the calls in flight hold (their estimates), and the settled calls' totals the
        # estimate is their average of.
        self._held_tokens, self._held_cost = 0, Fraction(0)
        self._calls, self._call_tokens, self._call_cost = 0, 0, Fraction(0)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.max_cost_usd or self.max_tokens)

    def admit(self) -> Hold | Refusal:
        """Before a model call: a :class:`Hold` of the average call's spend while the hour's
        spend plus what the calls in flight hold is under both limits (settle it after the
        call, whatever happened); else the :class:`Refusal` (nothing held)."""
        if not self.enabled:
            return Hold()
        with self._lock:
            now = self.clock()
            self._expire(now)
            tokens, cost = self._tokens + self._held_tokens, self._cost + self._held_cost
            if self._over(tokens, cost):
                # Under the limits but for what the calls in flight hold: they settle soon.
                held = (
                    f"hourly spend limit of ${self.max_cost_usd:.2f}"
                    if self.max_cost_usd and cost >= self._max_cost
                    else f"hourly token limit of {self.max_tokens}"
                )
                return self._refusal(now) or Refusal(
                    f"{held}: the calls in flight may use the rest; new calls wait for them",
                    1.0,
                )
            calls = max(1, self._calls)
            hold = Hold(math.ceil(self._call_tokens / calls), self._call_cost / calls)
            self._held_tokens += hold.tokens
            self._held_cost += hold.cost
            return hold

    def settle(self, hold: Hold, tokens: int, cost_usd: float) -> None:
        """After an admitted call: its hold released, what it used charged."""
        with self._lock:  # charged with no limit too: the metrics show the spend
            self._held_tokens -= hold.tokens
            self._held_cost -= hold.cost
            self._calls += 1
            self._call_tokens += tokens
            self._call_cost += Fraction(cost_usd)
        self.charge(tokens, cost_usd)

    def charge(self, tokens: int, cost_usd: float) -> None:
        """Count one call's spend now."""
        if not (tokens or cost_usd):
            return
        cost = Fraction(cost_usd)
        with self._lock:
            now = self.clock()  # read under the lock: buckets stay in time order
            self._expire(now)  # the window stays an hour long whether or not anyone asks
            second = math.floor(now)
            if self._buckets and self._buckets[-1][0] == second:
                self._buckets[-1][1] += tokens
                self._buckets[-1][2] += cost
            else:
                self._buckets.append([second, tokens, cost])
            self._tokens += tokens
            self._cost += cost
            self._free_at = None

    def spent(self) -> tuple[int, float]:
        """Tokens and cost of the last ``window_s`` seconds."""
        with self._lock:
            self._expire(self.clock())
            return self._tokens, float(self._cost)

    def refusal(self) -> Refusal | None:
        """None while both limits leave room; else why not, and when there will be room."""
        if not self.enabled:
            return None
        with self._lock:
            now = self.clock()
            self._expire(now)
            return self._refusal(now)

    def _refusal(self, now: float) -> Refusal | None:
        tokens, cost = self._tokens, self._cost
        if not self._over(tokens, cost):
            return None
        if self.max_cost_usd and cost >= self._max_cost:
            reason = (
                f"hourly spend limit of ${self.max_cost_usd:.2f} reached "
                f"(${float(cost):.2f} in the last hour)"
            )
        else:
            reason = f"hourly token limit of {self.max_tokens} reached ({tokens} in the last hour)"
        if self._free_at is None:  # expiring buckets before then does not move it
            self._free_at = self._frees_at(tokens, cost)
        wait_s = max(0.0, self._free_at - now)
        return Refusal(f"{reason}; new orders are taken again in {math.ceil(wait_s)}s", wait_s)

    def _frees_at(self, tokens: int, cost: Fraction) -> float:
        """The earliest moment enough old spend has left the window for both limits."""
        for second, bucket_tokens, bucket_cost in self._buckets:
            tokens -= bucket_tokens
            cost -= bucket_cost
            if not self._over(tokens, cost):
                return second + self.window_s
        raise AssertionError("an empty window is under any limit")  # pragma: no cover

    def _over(self, tokens: int, cost: Fraction) -> bool:
        return bool(
            (self.max_cost_usd and cost >= self._max_cost)
            or (self.max_tokens and tokens >= self.max_tokens)
        )

    def _expire(self, now: float) -> None:
        # A one-second bucket leaves the window an hour after its second began: its spend is
        # forgotten up to a second early, so a refusal's wait is never more than the window.
        while self._buckets and self._buckets[0][0] <= now - self.window_s:
            _, tokens, cost = self._buckets.popleft()
            self._tokens -= tokens
            self._cost -= cost
