"""The rules every spend store follows: the windows, the limits, when a window has room for
a model call's estimate and when it will have (see the package's docstring)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ...core.settings import Settings

__all__ = [
    "DAY",
    "HOUR",
    "Hold",
    "Limits",
    "Refusal",
    "SpendStore",
    "Spent",
    "Window",
    "blocked",
    "frees_at",
    "nanos",
    "refusal",
]

NANOS = 1_000_000_000  # nano-dollars in a dollar


def nanos(usd: float) -> int:
    return round(usd * NANOS)


@dataclass(frozen=True)
class Window:
    name: str
    span: str
    seconds: int
    slot_s: int

    def slot(self, now: float) -> int:
        return math.floor(now / self.slot_s)

    def ends(self, slot: int) -> float:
        """When spend made in ``slot`` leaves the window."""
        return slot * self.slot_s + self.seconds


HOUR = Window("hourly", "the last hour", 3600, 1)
DAY = Window("daily", "the last 24 hours", 86_400, 24)
WINDOWS = (HOUR, DAY)


@dataclass(frozen=True)
class Limits:
    """Tokens and dollars per window (0: no limit)."""

    hour_tokens: int = 0
    hour_usd: float = 0.0
    day_tokens: int = 0
    day_usd: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_tokens_per_hour,
            settings.max_cost_usd_per_hour,
            settings.max_tokens_per_day,
            settings.max_cost_usd_per_day,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.hour_tokens or self.hour_usd or self.day_tokens or self.day_usd)

    def of(self, window: Window) -> tuple[int, float]:
        return (
            (self.hour_tokens, self.hour_usd) if window is HOUR else (self.day_tokens, self.day_usd)
        )


@dataclass(frozen=True)
class Refusal:
    """Why nothing (no new order, no model call) may start now, and in how many seconds."""

    reason: str
    retry_after_s: float

    @property
    def retry_after_header(self) -> str:
        """``Retry-After``: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(frozen=True)
class Hold:
    """A model call's estimate, charged to the slots it was made in, until it is settled."""

    slots: tuple[int, int]  # the hour's and the day's
    tokens: int
    nanos: int


@dataclass(frozen=True)
class Spent:
    hour_tokens: int = 0
    hour_usd: float = 0.0
    day_tokens: int = 0
    day_usd: float = 0.0


def blocked(
    window: Window, limits: Limits, used: tuple[int, int], need: tuple[int, int]
) -> str | None:
    """Why ``window`` (holding ``used`` tokens and nano-dollars) has no room for ``need``;
    None when it has. A limit with nothing spent against it always has room: a call larger
    than the whole limit runs alone."""
    max_tokens, max_usd = limits.of(window)
    for limit, have, want, what in (
        (nanos(max_usd), used[1], need[1], "spend"),
        (max_tokens, used[0], need[0], "token"),
    ):
        if not limit or (have < limit and (have == 0 or have + want <= limit)):
            continue
        if what == "spend":
            shown, spent, call = f"${max_usd:.2f}", f"${have / NANOS:.2f}", f"${want / NANOS:.4f}"
        else:
            shown, spent, call = str(limit), str(have), str(want)
        # Room left, but not for this call's estimate: say so, or the figures look wrong.
        more = f", and a model call takes about {call}" if have < limit else ""
        return f"{window.name} {what} limit of {shown} reached ({spent} in {window.span}{more})"
    return None


def frees_at(
    window: Window,
    limits: Limits,
    used: tuple[int, int],
    need: tuple[int, int],
    slots: Iterable[tuple[int, int, int]],
) -> float:
    """The earliest moment enough old spend (``slots``: slot, tokens, nano-dollars, oldest
    first) has left ``window`` for ``need`` to fit."""
    tokens, cost = used
    for slot, slot_tokens, slot_nanos in slots:
        tokens, cost = tokens - slot_tokens, cost - slot_nanos
        if blocked(window, limits, (tokens, cost), need) is None:
            return window.ends(slot)
    raise AssertionError("an empty window has room")  # pragma: no cover


def refusal(reasons: list[tuple[float, str]], now: float, what: str) -> Refusal:
    """The refusal for the windows that are full: the one that frees up last."""
    free_at, reason = max(reasons)
    wait = max(0.0, free_at - now)
    return Refusal(f"{reason}; {what} are taken again in {math.ceil(wait)}s", wait)


class SpendStore(Protocol):
    """Where the windows are kept. ``reserve`` charges an estimate or refuses; ``settle``
    corrects a hold to what was spent; ``check`` says whether anything may start (new
    orders, ``/ready``); ``seen`` is the last spend this process knows of (a scrape)."""

    limits: Limits
    shared: bool

    async def reserve(self, tokens: int, cost: int, what: str = ...) -> Hold | Refusal: ...

    async def settle(self, hold: Hold, tokens: int, cost: int) -> None: ...

    async def check(self) -> Refusal | None: ...

    async def spent(self) -> Spent: ...

    def seen(self) -> Spent: ...

    async def aclose(self) -> None: ...
