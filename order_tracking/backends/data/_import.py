"""``track-order data import``: JSON Lines into the embedded database, in one transaction.

A bad line stops the import with ``FILE, line N: …`` and leaves the database as it was (a
database the import created is removed). Re-importing an order replaces it (its items,
shipment and payment with it); a stock line replaces that SKU's stock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ...core.order_ids import DEFAULT, OrderIdPattern
from .._sqlite import SCHEMA, SCHEMA_VERSION
from ._records import RecordError, check_record

__all__ = ["MAX_LINE_BYTES", "ImportError_", "ImportResult", "import_lines"]

MAX_LINE_BYTES = 1 << 20  # an order with a thousand items fits many times over
_CHUNK = 5_000  # rows written per executemany: memory stays flat whatever the file's size
_BOM = b"\xef\xbb\xbf"


class ImportError_(ValueError):  # noqa: N801 - ImportError is the builtin
    """The import failed; nothing was written. The message is one line."""


@dataclass(frozen=True)
class ImportResult:
    orders: int
    stock: int
    lines: int
    seconds: float


def _records(stream: BinaryIO, source: str) -> Iterator[tuple[int, Any]]:
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise ImportError_(f"{source}, line {number}: longer than {MAX_LINE_BYTES} bytes")
        if number == 1:
            raw = raw.removeprefix(_BOM)
        if not raw.strip():
            continue
        try:
            # Decoded here: json.loads would take UTF-16 or UTF-32 bytes as well.
            yield number, json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ImportError_(f"{source}, line {number}: not UTF-8 text") from None
        except (ValueError, RecursionError) as exc:
            reason = str(exc).split(":")[0] if isinstance(exc, ValueError) else "nested too deep"
            raise ImportError_(f"{source}, line {number}: not JSON ({reason})") from None


_UPSERT_ORDER = (
    "INSERT INTO orders VALUES (?, ?, ?) ON CONFLICT(order_id) DO UPDATE SET "
    "order_id = excluded.order_id, status = excluded.status, placed_date = excluded.placed_date"
)
_UPSERT_STOCK = (
    "INSERT INTO stock VALUES (?, ?, ?) ON CONFLICT(sku) DO UPDATE SET "
    "sku = excluded.sku, name = excluded.name, on_hand = excluded.on_hand"
)


class _Writer:
    """Rows gathered per table and written a chunk at a time."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.ids: set[str] = set()  # orders in this chunk, as the database compares them
        self.orders: list[tuple[Any, ...]] = []
        self.items: list[tuple[Any, ...]] = []
        self.shipments: list[tuple[Any, ...]] = []
        self.payments: list[tuple[Any, ...]] = []
        self.stock: list[tuple[Any, ...]] = []

    def add(self, kind: str, row: tuple[Any, ...]) -> None:
        if kind == "stock":
            self.stock.append(row)
        else:
            order_id, status, placed, items, shipment, payment = row
            if order_id.upper() in self.ids:
                self.flush()  # the same order again: the later line replaces the earlier
            self.ids.add(order_id.upper())
            self.orders.append((order_id, status, placed))
            self.items.extend((order_id, n, *item) for n, item in enumerate(items))
            if shipment:
                self.shipments.append((order_id, *shipment))
            if payment:
                self.payments.append((order_id, *payment))
        if len(self.orders) + len(self.items) + len(self.stock) >= _CHUNK:  # rows, not lines
            self.flush()

    def flush(self) -> None:
        db, ids = self.db, [(row[0],) for row in self.orders]
        # Replacing an order replaces what hangs off it (a re-import may drop its shipment).
        for table in ("order_items", "shipments", "payments"):
            db.executemany(f"DELETE FROM {table} WHERE order_id = ?", ids)  # noqa: S608
        db.executemany(_UPSERT_ORDER, self.orders)
        db.executemany("INSERT OR REPLACE INTO order_items VALUES (?, ?, ?, ?, ?)", self.items)
        db.executemany("INSERT INTO shipments VALUES (?, ?, ?, ?, ?, ?, ?)", self.shipments)
        db.executemany("INSERT INTO payments VALUES (?, ?, ?, ?)", self.payments)
        db.executemany(_UPSERT_STOCK, self.stock)
        for rows in (self.orders, self.items, self.shipments, self.payments, self.stock):
            rows.clear()
        self.ids.clear()


def _open(db_path: Path) -> sqlite3.Connection:
    db = None
    try:
        db = sqlite3.connect(db_path, isolation_level=None)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()
        raise ImportError_(f"{db_path}: cannot open as a database ({exc})") from None
    if tables and "order_tracking_meta" not in tables:
        db.close()
        raise ImportError_(f"{db_path}: a database with other tables, not an order database")
    db.execute("PRAGMA journal_mode = WAL")  # readers (running agents) are not blocked
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -65536")
    return db


def import_lines(
    stream: BinaryIO, db_path: Path, *, source: str, pattern: OrderIdPattern = DEFAULT
) -> ImportResult:
    """Import every line of ``stream`` into ``db_path`` (created if missing), all or nothing."""
    start = time.perf_counter()
    created = not db_path.exists()
    db = _open(db_path)
    orders = stock = lines = 0
    try:
        db.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        writer = _Writer(db)
        for number, record in _records(stream, source):
            try:
                kind, row = check_record(record, pattern)
            except RecordError as exc:
                raise ImportError_(f"{source}, line {number}: {exc}") from None
            writer.add(kind, row)
            orders, stock, lines = orders + (kind == "order"), stock + (kind == "stock"), number
        writer.flush()
        db.execute(
            "INSERT OR REPLACE INTO order_tracking_meta VALUES ('schema_version', ?)",
            (SCHEMA_VERSION,),
        )
        db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
        if created:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        if isinstance(exc, sqlite3.Error):
            raise ImportError_(f"{db_path}: {exc}") from None
        raise
    db.close()
    return ImportResult(orders, stock, lines, time.perf_counter() - start)
