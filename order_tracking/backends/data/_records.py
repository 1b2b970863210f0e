"""One line of order data (JSON Lines), checked: an order or a stock level, or a
``RecordError`` saying what is wrong. ``order-data.schema.json`` says the same as JSON Schema
(a test holds the two together).

Statuses are open strings: a source's own (``pending``, ``cancelled``, ``returned``...) is
kept as it is. Dates are ISO ``YYYY-MM-DD``. Unknown fields are refused rather than
dropped: a misspelt ``shipmnet`` would otherwise vanish silently, and card data has no field
to go into.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from ...core.order_ids import OrderIdPattern

__all__ = ["MAX_ITEMS", "RecordError", "check_record"]

MAX_TEXT = 200
MAX_CODE = 64  # ids, SKUs, statuses, carriers, tracking numbers
MAX_ITEMS = 1000
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = 1e12
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CODE = re.compile(r"[!-~]+")  # printable ASCII, no space

_ORDER_FIELDS = {"order_id", "status", "placed_date", "items", "shipment", "payment"}
_ITEM_FIELDS = {"sku", "name", "quantity"}
_SHIPMENT_FIELDS = {
    "status",
    "carrier",
    "tracking_number",
    "shipped_date",
    "eta",
    "delivered_date",
}
_PAYMENT_FIELDS = {"status", "amount", "currency"}
_STOCK_FIELDS = {"sku", "name", "on_hand"}


class RecordError(ValueError):
    """What is wrong with a line, naming the field (``items[1].quantity: …``)."""


def _fields(value: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where or 'the line'} must be a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise RecordError(f"{where + '.' if where else ''}{unknown[0][:40]}: unknown field")
    missing = sorted(required - set(value))
    if missing:
        raise RecordError(f"{where + '.' if where else ''}{missing[0]}: missing")
    return value


def _text(value: Any, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{where}: must be a non-empty string")
    if len(value) > limit:
        raise RecordError(f"{where}: longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape ("\ud800"): not text
        raise RecordError(f"{where}: not valid Unicode text") from None
    return value


def _code(value: Any, where: str) -> str:
    text = _text(value, where, MAX_CODE)
    if not _CODE.fullmatch(text):
        raise RecordError(f"{where}: must be printable ASCII without spaces")
    return text


def _status(value: Any, where: str) -> str:
    return _text(value, where, MAX_CODE).strip()


def _date(value: Any, where: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise RecordError(f"{where}: must be a date as YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{where}: {value} is not a calendar date") from None
    return value


def _integer(value: Any, where: str, low: int, high: int) -> int:
    # 5.0 is a whole number to JSON Schema, and so here.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RecordError(f"{where}: must be a whole number from {low} to {high}")
    return value


def _optional_code(value: Any, where: str) -> str | None:
    return None if value is None else _code(value, where)


def check_record(record: Any, pattern: OrderIdPattern) -> tuple[str, tuple[Any, ...]]:
    """``("order", (order_id, status, placed_date, items, shipment, payment))`` or
    ``("stock", (sku, name, on_hand))``: rows ready for the database."""
    if isinstance(record, dict) and "order_id" in record:
        return "order", _order(record, pattern)
    if isinstance(record, dict) and "sku" in record:
        fields = _fields(record, "", _STOCK_FIELDS, _STOCK_FIELDS)
        return "stock", (
            _code(fields["sku"], "sku"),
            _text(fields["name"], "name"),
            _integer(fields["on_hand"], "on_hand", 0, 10**12),
        )
    raise RecordError("must be an order (with order_id) or a stock level (with sku)")


def _order(record: dict[str, Any], pattern: OrderIdPattern) -> tuple[Any, ...]:
    fields = _fields(record, "", _ORDER_FIELDS, {"order_id", "status", "placed_date", "items"})
    raw_id = _code(fields["order_id"], "order_id")
    try:
        order_id = pattern.parse(raw_id, strip=False)
    except ValueError as exc:
        raise RecordError(f"order_id: {exc}") from None
    items = fields["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise RecordError(f"items: must be a list of 1 to {MAX_ITEMS} items")
    rows = []
    for n, item in enumerate(items):
        where = f"items[{n}]"
        item = _fields(item, where, _ITEM_FIELDS, _ITEM_FIELDS)
        rows.append(
            (
                _code(item["sku"], f"{where}.sku"),
                _text(item["name"], f"{where}.name"),
                _integer(item["quantity"], f"{where}.quantity", 1, MAX_QUANTITY),
            )
        )
    shipment = payment = None
    if fields.get("shipment") is not None:
        s = _fields(fields["shipment"], "shipment", _SHIPMENT_FIELDS, {"status"})
        shipment = (
            _status(s["status"], "shipment.status"),
            _optional_code(s.get("carrier"), "shipment.carrier"),
            _optional_code(s.get("tracking_number"), "shipment.tracking_number"),
            *(
                _date(s.get(k), f"shipment.{k}", True)
                for k in ("shipped_date", "eta", "delivered_date")
            ),
        )
    if fields.get("payment") is not None:
        p = _fields(fields["payment"], "payment", _PAYMENT_FIELDS, _PAYMENT_FIELDS)
        amount = p["amount"]
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not 0 <= amount <= MAX_AMOUNT  # compared before any float(): 10**400 is an int
            or not math.isfinite(amount)
        ):
            raise RecordError(f"payment.amount: must be a number from 0 to {MAX_AMOUNT:g}")
        currency = p["currency"]
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise RecordError("payment.currency: must be a three-letter code such as USD")
        payment = (_status(p["status"], "payment.status"), float(amount), currency)
    return (
        order_id,
        _status(fields["status"], "status"),
        _date(fields["placed_date"], "placed_date"),
        tuple(rows),
        shipment,
        payment,
    )
