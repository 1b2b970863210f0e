"""The four systems' records, built only through the checks of ``core/inbound.py``: whatever the
source (an HTTP system's JSON, a database's rows, the in-memory data, a line being imported),
a record that reaches a tool has passed here, by the same rules.

Text is bounded and printable, names hold no card number, dates are ISO ``YYYY-MM-DD``,
numbers finite and in range, and the id of a record is an id by this process's pattern and the
one asked for (ids name one order whatever their case). A payment has status, amount and
currency, nothing else: card data has no field to go into.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core import inbound
from ..core.inbound import Refused
from ..core.order_ids import OrderIdPattern
from ._types import Item, Order, Payment, Shipment, StockLevel

__all__ = [
    "ITEM_FIELDS",
    "MAX_AMOUNT",
    "MAX_ON_HAND",
    "MAX_QUANTITY",
    "PAYMENT_FIELDS",
    "SHIPMENT_FIELDS",
    "STOCK_FIELDS",
    "Refused",
    "item",
    "items",
    "order",
    "payment",
    "shipment",
    "status",
    "stock",
]

MAX_QUANTITY = 1_000_000
MAX_ON_HAND = 10**12
MAX_AMOUNT = 1e12
_CURRENCY = re.compile(r"[A-Z]{3}")

ORDER_FIELDS = ("order_id", "status", "placed_date", "items")
ITEM_FIELDS = ("sku", "name", "quantity")
SHIPMENT_FIELDS = ("status", "carrier", "tracking_number", "shipped_date", "eta", "delivered_date")
PAYMENT_FIELDS = ("status", "amount", "currency")
STOCK_FIELDS = ("sku", "name", "on_hand")


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def status(value: Any, where: str) -> str:
    """An open status (a source's own ``pending`` or ``returned`` is kept as it is)."""
    return inbound.text(value, where, limit=inbound.MAX_CODE).strip()


def item(value: Any, where: str, *, strict: bool = False) -> Item:
    fields = inbound.fields(value, where, ITEM_FIELDS, ITEM_FIELDS, strict=strict)
    return Item(
        inbound.code(fields["sku"], _at(where, "sku")),
        inbound.text(fields["name"], _at(where, "name")),
        inbound.integer(fields["quantity"], _at(where, "quantity"), 1, MAX_QUANTITY),
    )


def items(value: Any, where: str = "items", *, strict: bool = False) -> tuple[Item, ...]:
    """An order's items: a list of 1 to ``MAX_ITEMS``."""
    if not isinstance(value, list) or not 1 <= len(value) <= inbound.MAX_ITEMS:
        raise Refused(f"{where}: must be a list of 1 to {inbound.MAX_ITEMS} items")
    return tuple(item(v, f"{where}[{n}]", strict=strict) for n, v in enumerate(value))


def order(
    value: Any, pattern: OrderIdPattern, asked: str | None = None, *, strict: bool = False
) -> Order:
    """An order record (``asked``: the id it must be for; ``None`` when it is the source of
    the id, as a line being imported is)."""
    fields = inbound.fields(value, "", ORDER_FIELDS, ORDER_FIELDS, strict=strict)
    order_id = (
        inbound.order_id(fields["order_id"], pattern)
        if asked is None
        else inbound.record_id(fields["order_id"], pattern, asked)
    )
    return Order(
        order_id,
        status(fields["status"], "status"),
        str(inbound.date(fields["placed_date"], "placed_date")),
        items(fields["items"], strict=strict),
    )


def shipment(value: Any, order_id: str, where: str = "", *, strict: bool = False) -> Shipment:
    """A shipment's fields (``order_id`` already checked: a record's own, or its order's)."""
    fields = inbound.fields(value, where, SHIPMENT_FIELDS, ("status",), strict=strict)
    return Shipment(
        order_id,
        status(fields["status"], _at(where, "status")),
        inbound.optional_code(fields.get("carrier"), _at(where, "carrier")),
        inbound.optional_code(fields.get("tracking_number"), _at(where, "tracking_number")),
        *(
            inbound.date(fields.get(k), _at(where, k), optional=True)
            for k in ("shipped_date", "eta", "delivered_date")
        ),
    )


def payment(value: Any, order_id: str, where: str = "", *, strict: bool = False) -> Payment:
    """A payment's status, amount and currency; nothing else is read."""
    fields = inbound.fields(value, where, PAYMENT_FIELDS, PAYMENT_FIELDS, strict=strict)
    currency = fields["currency"]
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise Refused(f"{_at(where, 'currency')}: must be a three-letter code such as USD")
    return Payment(
        order_id,
        status(fields["status"], _at(where, "status")),
        inbound.money(fields["amount"], _at(where, "amount"), MAX_AMOUNT),
        currency,
    )


def stock(value: Any, where: str = "", *, strict: bool = False) -> StockLevel:
    fields = inbound.fields(value, where, STOCK_FIELDS, STOCK_FIELDS, strict=strict)
    return StockLevel(
        inbound.code(fields["sku"], _at(where, "sku")),
        inbound.text(fields["name"], _at(where, "name")),
        inbound.integer(fields["on_hand"], _at(where, "on_hand"), 0, MAX_ON_HAND),
    )


def keyed(record: Mapping[str, Any], pattern: OrderIdPattern, asked: str) -> str:
    """The ``order_id`` of a record answering for ``asked`` (a shipment, a payment)."""
    fields = inbound.fields(record, "", ("order_id",), ("order_id",))
    return inbound.record_id(fields["order_id"], pattern, asked)
