"""What may be spent over any hour and any day (``MAX_COST_USD_PER_HOUR``,
``MAX_TOKENS_PER_HOUR``, ``MAX_COST_USD_PER_DAY``, ``MAX_TOKENS_PER_DAY``), checked before
every model call, and where that spend is kept (``SPEND_LIMIT_STORE``).

Before a model call its cost is *estimated* and charged at once (a hold); after it, the hold
is *settled* to what the call really spent. A call is refused while the window holds no room
for its estimate, so what is spent past a limit is at most what the calls in flight spent
beyond their estimates (every process sharing the store counts: their holds are in it). New
orders are refused once a window is full; orders in flight see their next model call refused.

A window is a rolling hour (one-second slots) or day (24-second slots): spend made in a slot
leaves the window one window-length after the slot began, so a refusal's retry time is never
more than the window. Costs are kept in whole nano-dollars, so every verdict is exact (a float
sum would hang on rounding).

One private module per part: ``_rules`` (the windows and when one has room, which every store
follows), ``_memory`` (this process: ``memory``), ``_sqlite`` (every process on a machine:
``sqlite:///PATH``), ``_redis`` (every machine: ``redis://HOST:PORT/DB``, the rules as a Lua
script), ``_reach`` (a shared store that cannot be reached refuses: fails closed; see
docs/cost.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ._memory import MemoryStore
from ._rules import DAY, HOUR, NANOS, Hold, Limits, Refusal, SpendStore, Spent, Window, nanos

if TYPE_CHECKING:
    from ...core.settings import Settings

__all__ = [
    "DAY",
    "HOUR",
    "NANOS",
    "Hold",
    "Limits",
    "MemoryStore",
    "Refusal",
    "SpendStore",
    "Spent",
    "Window",
    "nanos",
    "open_store",
]


def open_store(settings: Settings, clock: Callable[[], float] | None = None) -> SpendStore:
    """The store ``SPEND_LIMIT_STORE`` names, for the settings' limits (``clock``: the
    in-process store's, monotonic). Without a limit the spend is counted in this process
    only (the metrics show it): nothing to share."""
    limits = Limits.from_settings(settings)
    where = settings.spend_limit_store
    if where == "memory" or not limits.enabled:
        return MemoryStore(limits, clock or time.monotonic)
    if where.startswith("sqlite:///"):
        from ._sqlite import SqliteStore

        return SqliteStore(limits, Path(where[len("sqlite:///") :]))
    from ._redis import RedisStore

    return RedisStore(limits, where)
