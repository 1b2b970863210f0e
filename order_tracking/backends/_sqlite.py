"""The embedded database: the schema ``track-order data import`` fills, and the read-only
adapter the agents use.

Lookups run on a small pool of threads, each with its own read-only connection, so the
event loop never waits on the disk; every lookup is by primary key (an index). Ids and SKUs
compare case-insensitively (``COLLATE NOCASE``: the one rule for ids, ``OrderIdPattern.key``)
and come back as stored. A database file is a peer like any other (it may not be one our
import wrote): every row is built into a record through the same checks as an HTTP answer
(``_checked.py``), and one that does not fit is the system failing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from ..core import inbound
from ..core.backend_settings import BackendConfigError
from ..core.order_ids import DEFAULT, OrderIdPattern
from . import _checked as checked
from ._spans import span_attributes
from ._types import BackendUnavailable, Order, Payment, Shipment, StockLevel

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SqliteBackend", "connect_read_only"]

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS order_tracking_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY COLLATE NOCASE,
    status TEXT NOT NULL,
    placed_date TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL COLLATE NOCASE,
    position INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shipments (
    order_id TEXT PRIMARY KEY COLLATE NOCASE,
    status TEXT NOT NULL,
    carrier TEXT,
    tracking_number TEXT,
    shipped_date TEXT,
    eta TEXT,
    delivered_date TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS payments (
    order_id TEXT PRIMARY KEY COLLATE NOCASE,
    status TEXT NOT NULL,
    amount REAL NOT NULL,
    currency TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stock (
    sku TEXT PRIMARY KEY COLLATE NOCASE,
    name TEXT NOT NULL,
    on_hand INTEGER NOT NULL
) WITHOUT ROWID;
"""

# One statement per lookup, each answered from a primary key (see the query-plan test).
QUERIES = {
    "order": "SELECT order_id, status, placed_date FROM orders WHERE order_id = ?",
    "items": "SELECT sku, name, quantity FROM order_items WHERE order_id = ? ORDER BY position",
    "shipment": (
        "SELECT order_id, status, carrier, tracking_number, shipped_date, eta, delivered_date "
        "FROM shipments WHERE order_id = ?"
    ),
    "payment": "SELECT order_id, status, amount, currency FROM payments WHERE order_id = ?",
    "stock": "SELECT sku, name, on_hand FROM stock WHERE sku = ?",
}
THREADS = 4
T = TypeVar("T")


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (``mode=ro`` and ``query_only``), usable from the
    thread that runs the lookups; ``BackendConfigError`` if ``path`` is not our database."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.execute("PRAGMA query_only = ON")
        row = connection.execute(
            "SELECT value FROM order_tracking_meta WHERE key = 'schema_version'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        if not path.exists():
            raise BackendConfigError(
                f"ORDER_BACKEND: no database at {path}; create one with "
                f"`track-order data import FILE.jsonl --db {path}`"
            ) from None
        raise BackendConfigError(
            f"ORDER_BACKEND: {path} is not an order database ({exc})"
        ) from None
    if row is None or row[0] != SCHEMA_VERSION:
        connection.close()
        raise BackendConfigError(
            f"ORDER_BACKEND: {path} has schema version {row and row[0]!r}, "
            f"expected {SCHEMA_VERSION!r}; re-import it"
        )
    return connection


class SqliteBackend:
    """All four systems over one database file, read-only."""

    def __init__(
        self, path: Path, threads: int = THREADS, order_ids: OrderIdPattern = DEFAULT
    ) -> None:
        self.path, self.order_ids = path, order_ids
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sqlite-lookup")

    @classmethod
    def open(cls, path: Path, order_ids: OrderIdPattern = DEFAULT) -> SqliteBackend:
        """Checked now (exists, is ours, schema version), so a wrong path fails at start."""
        connect_read_only(path).close()
        return cls(path, order_ids=order_ids)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = connect_read_only(self.path)
            with self._lock:
                self._connections.append(connection)
        return connection

    async def _lookup(self, system: str, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            return work(self._connection())

        span_attributes({"backend.system": system, "db.system": "sqlite"})
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, run)
        except (sqlite3.Error, BackendConfigError) as exc:
            raise BackendUnavailable(system, f"database error: {exc}") from exc
        except inbound.Refused as exc:
            raise BackendUnavailable(system, f"a record that does not fit: {exc}") from None

    async def get_order(self, order_id: str) -> Order | None:
        def work(db: sqlite3.Connection) -> Order | None:
            row = db.execute(QUERIES["order"], (order_id,)).fetchone()
            if row is None:
                return None
            items = db.execute(QUERIES["items"], (row[0],)).fetchall()
            record = dict(zip(checked.ORDER_FIELDS, row, strict=False))
            record["items"] = [dict(zip(checked.ITEM_FIELDS, i, strict=True)) for i in items]
            return checked.order(record, self.order_ids, order_id)

        return await self._lookup("oms", work)

    async def get_shipment(self, order_id: str) -> Shipment | None:
        def work(db: sqlite3.Connection) -> Shipment | None:
            row = db.execute(QUERIES["shipment"], (order_id,)).fetchone()
            if row is None:
                return None
            record = dict(zip(("order_id", *checked.SHIPMENT_FIELDS), row, strict=True))
            found = inbound.record_id(record["order_id"], self.order_ids, order_id)
            return checked.shipment({k: v for k, v in record.items() if v is not None}, found)

        return await self._lookup("carrier", work)

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        def work(db: sqlite3.Connection) -> list[StockLevel]:
            rows = (db.execute(QUERIES["stock"], (sku,)).fetchone() for sku in skus)
            return [
                checked.stock(dict(zip(checked.STOCK_FIELDS, row, strict=True)))
                for row in rows
                if row is not None
            ]

        return await self._lookup("warehouse", work)

    async def get_payment(self, order_id: str) -> Payment | None:
        def work(db: sqlite3.Connection) -> Payment | None:
            row = db.execute(QUERIES["payment"], (order_id,)).fetchone()
            if row is None:
                return None
            found = inbound.record_id(row[0], self.order_ids, order_id)
            return checked.payment(dict(zip(checked.PAYMENT_FIELDS, row[1:], strict=True)), found)

        return await self._lookup("payments", work)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
