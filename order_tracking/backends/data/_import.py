"""``track-order data import``: JSON Lines into the embedded database, in one transaction.

A bad line stops the import with ``FILE, line N: …`` and leaves the database as it was (a
database the import created is removed). Re-importing an order replaces it (its items,
shipment and payment with it); a stock line replaces that SKU's stock. Each line is JSON
read by the way in (``core/inbound.py``: a field twice in one object is refused, not
last-wins), then checked (``_records.py``).

Ids name one order whatever their case (``OrderIdPattern.key``; the database compares them
so). Two lines for one order written the same way are one order, the later line replacing the
earlier; written in two cases (``ab-1`` and ``AB-1`` under a pattern that takes both) they are
refused, naming both lines, and so is a line that would replace a stored order spelled
another way: two customers are never merged into one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ...core import inbound
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
            text = raw.rstrip(b"\r\n").decode("utf-8")
            yield number, inbound.loads(text, max_bytes=MAX_LINE_BYTES)
        except UnicodeDecodeError:
            raise ImportError_(f"{source}, line {number}: not UTF-8 text") from None
        except inbound.Refused as exc:
            raise ImportError_(f"{source}, line {number}: {exc}") from None


_UPSERT_ORDER = (
    "INSERT INTO orders VALUES (?, ?, ?) ON CONFLICT(order_id) DO UPDATE SET "
    "order_id = excluded.order_id, status = excluded.status, placed_date = excluded.placed_date"
)
# Each order's line in this import, by id as the database compares ids, and two triggers that
# stop a statement merging two spellings of one id: in the file, or a stored order's.
_LINES = (
    "CREATE TEMP TABLE import_lines "
    "(order_id TEXT PRIMARY KEY COLLATE NOCASE, line INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TEMP TRIGGER import_two_spellings BEFORE UPDATE ON import_lines "
    "WHEN old.order_id <> new.order_id COLLATE BINARY "
    "BEGIN SELECT import_refused('lines', old.line, new.line); END",
    "CREATE TEMP TRIGGER import_stored_spelling BEFORE UPDATE ON orders "
    "WHEN old.order_id <> new.order_id COLLATE BINARY "
    "BEGIN SELECT import_refused('stored', old.order_id, new.order_id); END",
)
_UPSERT_LINE = (
    "INSERT INTO import_lines VALUES (?, ?) ON CONFLICT(order_id) DO UPDATE SET "
    "order_id = excluded.order_id, line = excluded.line"
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
        self.lines: list[tuple[str, int]] = []
        self.orders: list[tuple[Any, ...]] = []
        self.items: list[tuple[Any, ...]] = []
        self.shipments: list[tuple[Any, ...]] = []
        self.payments: list[tuple[Any, ...]] = []
        self.stock: list[tuple[Any, ...]] = []

    def add(self, kind: str, row: tuple[Any, ...], line: int) -> None:
        if kind == "stock":
            self.stock.append(row)
        else:
            order_id, status, placed, items, shipment, payment = row
            if order_id.upper() in self.ids:
                self.flush()  # the same order again: the later line replaces the earlier
            self.ids.add(order_id.upper())
            self.lines.append((order_id, line))
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
        db.executemany(_UPSERT_LINE, self.lines)
        # Replacing an order replaces what hangs off it (a re-import may drop its shipment).
        for table in ("order_items", "shipments", "payments"):
            db.executemany(f"DELETE FROM {table} WHERE order_id = ?", ids)  # noqa: S608
        db.executemany(_UPSERT_ORDER, self.orders)
        db.executemany("INSERT OR REPLACE INTO order_items VALUES (?, ?, ?, ?, ?)", self.items)
        db.executemany("INSERT INTO shipments VALUES (?, ?, ?, ?, ?, ?, ?)", self.shipments)
        db.executemany("INSERT INTO payments VALUES (?, ?, ?, ?)", self.payments)
        db.executemany(_UPSERT_STOCK, self.stock)
        for rows in (self.lines, self.orders, self.items, self.shipments, self.payments, self.stock):
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
    if not created and not db_path.is_file():  # /dev/null, a folder: SQLite would leave files
        raise ImportError_(f"{db_path}: not a regular file")
    db = _open(db_path)
    refusals: list[tuple[str, Any, Any]] = []
    orders = stock = lines = 0
    try:
        db.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.create_function("import_refused", 3, lambda *a: _refuse(refusals, a))
        for statement in _LINES:
            db.execute(statement)
        writer = _Writer(db)
        for number, record in _records(stream, source):
            try:
                kind, row = check_record(record, pattern)
            except RecordError as exc:
                raise ImportError_(f"{source}, line {number}: {exc}") from None
            writer.add(kind, row, number)
            orders, stock, lines = orders + (kind == "order"), stock + (kind == "stock"), number
        writer.flush()
        db.execute(
            "INSERT OR REPLACE INTO order_tracking_meta VALUES ('schema_version', ?)",
            (SCHEMA_VERSION,),
        )
        db.execute("COMMIT")
    except BaseException as exc:
        merged = None
        if isinstance(exc, sqlite3.Error) and refusals:
            merged = _merged(db, refusals[0], source)
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
        if created:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        if merged is not None:
            raise ImportError_(merged) from None
        if isinstance(exc, sqlite3.Error):
            raise ImportError_(f"{db_path}: {exc}") from None
        raise
    db.close()
    return ImportResult(orders, stock, lines, time.perf_counter() - start)


def _refuse(refusals: list[tuple[str, Any, Any]], args: tuple[Any, ...]) -> None:
    """What a trigger of ``_LINES`` calls: noted, then the statement is stopped."""
    kind, first, second = args
    refusals.append((kind, first, second))
    raise ValueError(kind)


def _merged(db: sqlite3.Connection, refusal: tuple[str, Any, Any], source: str) -> str:
    """The refusal for two spellings of one id (a trigger's, see ``_LINES``)."""
    kind, first, second = refusal
    rule = "ids name one order whatever their case: use one spelling"
    if kind == "lines":
        return (
            f"{source}, lines {first} and {second}: one order id written in two cases "
            f"would merge two orders into one ({rule})"
        )
    found = db.execute("SELECT line FROM import_lines WHERE order_id = ?", (second,)).fetchone()
    where = f", line {found[0]}" if found else ""
    return f"{source}{where}: {second} would replace the stored order {first} ({rule})"
