"""The four tools the specialists call, as async functions over the backends they are given.

:func:`build_tools` makes them for one set of backends (``backends/``). Every tool returns
``{"status": "success" | "error", ...}`` so an agent can report a missing order, or a system
that is down, instead of failing; a tool's one-line docstring is what the model reads.
Arguments come from a model and may be anything: they are checked before any backend sees
them (order ids against the configured pattern). A system that is unavailable becomes the
tool's error result naming it, and is noted on the run (its status says ``unavailable``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..backends import SYSTEMS, Backends, BackendUnavailable, Order, Payment, Shipment, StockLevel
from ..core.inbound import CONTROL
from ..core.order_ids import DEFAULT, MAX_ID_CHARS, InvalidOrderId, OrderIdPattern
from ..models.resilience import current_usage

__all__ = [
    "REORDER_THRESHOLD",
    "TOOL_NAMES",
    "Tool",
    "build_tools",
    "not_shipped",
    "order_result",
    "payment_result",
    "shipment_result",
    "stock_entry",
    "unknown_stock",
]

log = logging.getLogger("order_tracking.tools")

REORDER_THRESHOLD = 10
TOOL_NAMES = ("get_order_status", "get_shipping_details", "check_inventory", "get_payment_status")
Tool = Callable[..., Awaitable[dict[str, Any]]]


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "error_message": message}


class _Refused(Exception):
    """An argument the tool will not pass on; the message is the tool's error."""


def _text(value: Any, kind: str) -> str:
    """A model's argument, as given: only spaces around it are let go. A line break or any
    other control character is refused, never stripped away (``"ORD-1001\\n"`` is not an id)."""
    if not isinstance(value, str) or not value.strip():
        raise _Refused(f"Give {'an' if kind[0] in 'aeiou' else 'a'} {kind} as a non-empty string.")
    value = value.strip(" ")
    if len(value) > MAX_ID_CHARS:
        raise _Refused(f"That {kind} is too long to be valid.")
    if CONTROL.search(value) or not value.isprintable():  # never an id, nor in a message
        raise _Refused(f"That {kind} has characters no {kind} has.")
    return value


def _order_id(value: Any, pattern: OrderIdPattern) -> str:
    try:
        return pattern.parse(_text(value, "order id"))
    except InvalidOrderId as exc:
        raise _Refused(f"That is not an order id ({exc}).") from None


def _not_found(order_id: str) -> dict[str, Any]:
    return _error(f"Order {order_id} not found.")


def order_result(order: Order) -> dict[str, Any]:
    return {
        "status": "success",
        "order_id": order.order_id,
        "order_status": order.status,
        "placed_date": order.placed_date,
        "item_count": len(order.items),
        "items": [{"sku": i.sku, "name": i.name, "quantity": i.quantity} for i in order.items],
    }


def not_shipped(order_id: str) -> dict[str, Any]:
    return {
        "status": "success",
        "order_id": order_id,
        "shipment_status": "not_shipped",
        "carrier": None,
        "tracking_number": None,
        "eta": None,
    }


def shipment_result(shipment: Shipment) -> dict[str, Any]:
    result = {
        "status": "success",
        "order_id": shipment.order_id,
        "shipment_status": shipment.status,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
    }
    for key in ("shipped_date", "eta", "delivered_date"):
        if getattr(shipment, key) is not None:
            result[key] = getattr(shipment, key)
    return result


def payment_result(payment: Payment) -> dict[str, Any]:
    # The adapter hands over only these: card data never reaches a model or a trace.
    return {
        "status": "success",
        "order_id": payment.order_id,
        "payment_status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
    }


def stock_entry(level: StockLevel) -> dict[str, Any]:
    if level.on_hand <= 0:
        state = "out_of_stock"
    elif level.on_hand < REORDER_THRESHOLD:
        state = "low_stock"
    else:
        state = "in_stock"
    return {
        "sku": level.sku,
        "name": level.name,
        "on_hand": level.on_hand,
        "stock_state": state,
        "reorder_recommended": level.on_hand < REORDER_THRESHOLD,
    }


def unknown_stock(sku: str, name: str) -> dict[str, Any]:
    # An order's SKU the warehouse does not list: said as it is, never dropped.
    return {
        "sku": sku,
        "name": name,
        "on_hand": None,
        "stock_state": "not_stocked",
        "reorder_recommended": None,
    }


def _guarded(tool: Tool) -> Tool:
    """Refused arguments and unavailable systems become the tool's error result."""

    @functools.wraps(tool)  # name, docstring and signature: what the model is shown
    async def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await tool(*args, **kwargs)
        except _Refused as exc:
            return _error(str(exc))
        except BackendUnavailable as exc:
            log.warning("%s: %s", tool.__name__, exc)
            usage = current_usage()
            if usage is not None:
                usage.unavailable.add(SYSTEMS.get(exc.system, exc.system))
            said = str(exc)
            return _error(f"{said[0].upper()}{said[1:]}; try again later.")

    return run


def build_tools(backends: Backends, order_ids: OrderIdPattern = DEFAULT) -> dict[str, Tool]:
    """The four tools over ``backends``, by name; ids are checked against ``order_ids``."""

    async def get_order_status(order_id: str) -> dict[str, Any]:
        """Look up an order's fulfilment status, the date it was placed and its items."""
        order_id = _order_id(order_id, order_ids)
        order = await backends.oms.get_order(order_id)
        return _not_found(order_id) if order is None else order_result(order)

    async def get_shipping_details(order_id: str) -> dict[str, Any]:
        """Look up an order's carrier, tracking number and delivery date or ETA."""
        order_id = _order_id(order_id, order_ids)
        shipment = await backends.carrier.get_shipment(order_id)
        if shipment is None:
            order = await backends.oms.get_order(order_id)
            if order is None:
                return _not_found(order_id)
            return not_shipped(order.order_id)
        return shipment_result(shipment)

    async def check_inventory(sku: str = "", order_id: str = "") -> dict[str, Any]:
        """Check on-hand stock and the reorder flag for one SKU, or for every SKU in an order."""
        if sku:
            sku = _text(sku, "SKU")
            levels = await backends.warehouse.get_stock([sku])
            if not levels:
                return _error(f"SKU {sku.upper()} not found.")
            return {"status": "success", "items": [stock_entry(levels[0])]}
        if not order_id:
            return _error("Give a SKU or an order id.")
        order_id = _order_id(order_id, order_ids)
        order = await backends.oms.get_order(order_id)
        if order is None:
            return _not_found(order_id)
        skus = list(dict.fromkeys(i.sku for i in order.items))
        found = {level.sku.upper(): level for level in await backends.warehouse.get_stock(skus)}
        return {
            "status": "success",
            "order_id": order.order_id,
            "items": [
                stock_entry(found[i.sku.upper()])
                if i.sku.upper() in found
                else unknown_stock(i.sku, i.name)
                for i in order.items
            ],
        }

    async def get_payment_status(order_id: str) -> dict[str, Any]:
        """Look up whether an order's payment is authorized, captured or failed, with its amount."""
        order_id = _order_id(order_id, order_ids)
        payment = await backends.payments.get_payment(order_id)
        if payment is None:
            if await backends.oms.get_order(order_id) is None:
                return _not_found(order_id)
            return _error(f"No payment recorded for order {order_id}.")
        return payment_result(payment)

    tools = (get_order_status, get_shipping_details, check_inventory, get_payment_status)
    return {tool.__name__: _guarded(tool) for tool in tools}
