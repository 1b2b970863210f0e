"""One line of order data (JSON Lines), checked: an order or a stock level, or a
``RecordError`` saying what is wrong. ``order-data.schema.json`` says the same as JSON Schema
(a test holds the two together).

A file being imported is a peer like any other: its lines are built through the checks every
source shares (``backends/_checked.py``, on ``core/inbound.py``), the strict way. Unknown
fields are refused rather than dropped (a misspelt ``shipmnet`` would otherwise vanish
silently, and card data has no field to go into), text holds no control characters and names
no card number. Statuses are open strings: a source's own (``pending``, ``cancelled``,
``returned``...) is kept as it is. Dates are ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

from typing import Any

from ...core import inbound
from ...core.order_ids import OrderIdPattern
from .. import _checked as checked

__all__ = ["MAX_ITEMS", "RecordError", "check_record"]

MAX_ITEMS = inbound.MAX_ITEMS
# What is wrong with a line, naming the field (``items[1].quantity: …``).
RecordError = inbound.Refused

_ORDER_FIELDS = ("order_id", "status", "placed_date", "items", "shipment", "payment")


def check_record(record: Any, pattern: OrderIdPattern) -> tuple[str, tuple[Any, ...]]:
    """``("order", (order_id, status, placed_date, items, shipment, payment))`` or
    ``("stock", (sku, name, on_hand))``: rows ready for the database."""
    if isinstance(record, dict) and "order_id" in record:
        return "order", _order(record, pattern)
    if isinstance(record, dict) and "sku" in record:
        level = checked.stock(record, strict=True)
        return "stock", (level.sku, level.name, level.on_hand)
    raise RecordError("must be an order (with order_id) or a stock level (with sku)")


def _order(record: dict[str, Any], pattern: OrderIdPattern) -> tuple[Any, ...]:
    fields = inbound.fields(record, "", _ORDER_FIELDS, checked.ORDER_FIELDS, strict=True)
    order = checked.order({k: fields[k] for k in checked.ORDER_FIELDS}, pattern, strict=True)
    shipment = payment = None
    if fields.get("shipment") is not None:
        s = checked.shipment(fields["shipment"], order.order_id, "shipment", strict=True)
        shipment = (s.status, s.carrier, s.tracking_number, s.shipped_date, s.eta, s.delivered_date)
    if fields.get("payment") is not None:
        p = checked.payment(fields["payment"], order.order_id, "payment", strict=True)
        payment = (p.status, p.amount, p.currency)
    return (
        order.order_id,
        order.status,
        order.placed_date,
        tuple((i.sku, i.name, i.quantity) for i in order.items),
        shipment,
        payment,
    )
