"""The windows in a SQLite file (``SPEND_LIMIT_STORE=sqlite:///PATH``): every process on
one machine shares them."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._reach import Reach, spent_of, verdict
from ._rules import DAY, HOUR, WINDOWS, Hold, Limits, Refusal, Spent, blocked, frees_at, refusal

__all__ = ["SqliteStore"]


class SqliteStore:
    """The windows in a SQLite file: one row per window and slot, each reservation an
    immediate transaction (every process on the machine waits its turn, at most 5 s).
    ``clock``: wall-clock seconds, shared by the processes (tests pass their own)."""

    shared = True

    def __init__(self, limits: Limits, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.limits, self.path, self.clock = limits, path, clock
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._reach = Reach(f"sqlite:///{path}")
        self._seen = Spent()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(
                self.path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS spend (win INTEGER, slot INTEGER, tokens INTEGER, "
                "nanos INTEGER, PRIMARY KEY (win, slot)) WITHOUT ROWID"
            )
            self._db = db
        return self._db

    def _step(self, need: tuple[int, int], charge: bool, what: str) -> Hold | Refusal | None:
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                now = self.clock()
                used, free = [], []
                for index, window in enumerate(WINDOWS):
                    gone = math.floor((now - window.seconds) / window.slot_s)
                    db.execute("DELETE FROM spend WHERE win = ? AND slot <= ?", (index, gone))
                    row = db.execute(
                        "SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(nanos), 0) FROM spend "
                        "WHERE win = ?",
                        (index,),
                    ).fetchone()
                    used.append((row[0], row[1]))
                    at = 0.0
                    if self.limits.enabled and blocked(window, self.limits, used[-1], need):
                        rows = db.execute(
                            "SELECT slot, tokens, nanos FROM spend WHERE win = ? ORDER BY slot",
                            (index,),
                        )
                        at = frees_at(window, self.limits, used[-1], need, rows)
                    free.append(at)
                full = verdict(self.limits, now, need, used, free) if self.limits.enabled else []
                hold = None
                if not full and charge:
                    hold = Hold((HOUR.slot(now), DAY.slot(now)), *need)
                    self._write(db, hold.slots, *need)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._seen = spent_of(used, need if hold else (0, 0))
        return refusal(full, now, what) if full else hold

    @staticmethod
    def _write(db: sqlite3.Connection, slots: tuple[int, int], tokens: int, cost: int) -> None:
        for index, slot in enumerate(slots):
            db.execute(
                "INSERT INTO spend VALUES (?, ?, ?, ?) ON CONFLICT (win, slot) DO UPDATE SET "
                "tokens = tokens + excluded.tokens, nanos = nanos + excluded.nanos",
                (index, slot, tokens, cost),
            )

    def _settle(self, hold: Hold, tokens: int, cost: int) -> None:
        with self._lock:
            db = self._connect()
            for index, slot in enumerate(hold.slots):  # a slot gone from the window stays gone
                db.execute(
                    "UPDATE spend SET tokens = tokens + ?, nanos = nanos + ? "
                    "WHERE win = ? AND slot = ?",
                    (tokens - hold.tokens, cost - hold.nanos, index, slot),
                )

    async def _run(self, step: Callable[..., Any], *args: Any) -> Any:
        try:
            outcome = await asyncio.to_thread(step, *args)
        except (sqlite3.Error, OSError) as exc:
            return self._reach.failed(exc)
        self._reach.answered()
        return outcome

    async def reserve(self, tokens: int, cost: int, what: str = "model calls") -> Hold | Refusal:
        return await self._run(self._step, (tokens, cost), True, what)

    async def settle(self, hold: Hold, tokens: int, cost: int) -> None:
        if (tokens, cost) != (hold.tokens, hold.nanos):
            await self._run(self._settle, hold, tokens, cost)

    async def check(self) -> Refusal | None:
        return await self._run(self._step, (0, 0), False, "new orders")

    async def spent(self) -> Spent:
        await self.check()
        return self._seen

    def seen(self) -> Spent:
        return self._seen

    async def aclose(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
