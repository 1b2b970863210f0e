"""Deterministic mock backends (OMS, carrier, warehouse, payment gateway) and the tools over them.

Every tool returns ``{"status": "success" | "error", ...}`` so an agent can report a missing
order or SKU instead of failing. Ids are matched case-insensitively. A tool's one-line
docstring is what the model reads.
"""

from __future__ import annotations

from typing import Any

# --- Order management system -------------------------------------------------------------
_ORDERS: dict[str, dict[str, Any]] = {
    "ORD-1001": {
        "order_status": "shipped",
        "placed_date": "2024-01-15",
        "items": [
            {"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 1},
            {"sku": "SKU-KBD-07", "name": "Mechanical keyboard", "quantity": 1},
        ],
    },
    "ORD-1002": {
        "order_status": "processing",
        "placed_date": "2024-01-17",
        "items": [
            {"sku": "SKU-MON-22", "name": "27-inch monitor", "quantity": 1},
            {"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 2},
        ],
    },
    "ORD-1003": {
        "order_status": "delivered",
        "placed_date": "2024-01-05",
        "items": [
            {"sku": "SKU-KBD-07", "name": "Mechanical keyboard", "quantity": 1},
        ],
    },
}

# --- Carrier API ---------------------------------------------------------------------------
_SHIPMENTS: dict[str, dict[str, Any]] = {
    "ORD-1001": {
        "shipment_status": "in_transit",
        "carrier": "UPS",
        "tracking_number": "1Z999AA1012345678",
        "shipped_date": "2024-01-16",
        "eta": "2024-01-18",
    },
    "ORD-1003": {
        "shipment_status": "delivered",
        "carrier": "FedEx",
        "tracking_number": "771234567890",
        "shipped_date": "2024-01-06",
        "delivered_date": "2024-01-09",
    },
}

# --- Warehouse -----------------------------------------------------------------------------
_REORDER_THRESHOLD = 10
_STOCK: dict[str, dict[str, Any]] = {
    "SKU-APL-01": {"name": "Wireless earbuds", "on_hand": 150},
    "SKU-KBD-07": {"name": "Mechanical keyboard", "on_hand": 3},
    "SKU-MON-22": {"name": "27-inch monitor", "on_hand": 0},
}

# --- Payment gateway -----------------------------------------------------------------------
# The gateway holds card data; the tool must never hand it to a model.
_PAYMENTS: dict[str, dict[str, Any]] = {
    "ORD-1001": {
        "payment_status": "captured",
        "amount": 299.99,
        "currency": "USD",
        "card_number": "4111111111111111",
        "card_expiry": "12/27",
    },
    "ORD-1002": {
        "payment_status": "authorized",
        "amount": 449.00,
        "currency": "USD",
        "card_number": "5500005555555559",
        "card_expiry": "03/26",
    },
    "ORD-1003": {
        "payment_status": "captured",
        "amount": 89.50,
        "currency": "USD",
        "card_number": "340000000000009",
        "card_expiry": "08/25",
    },
}
_PUBLIC_PAYMENT_FIELDS = ("payment_status", "amount", "currency")

_MAX_ID_LENGTH = 64


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "error_message": message}


def _normalise_id(value: Any, kind: str) -> tuple[str | None, dict[str, Any] | None]:
    """Return (normalised id, None) or (None, error result): a model may send anything."""
    if not isinstance(value, str) or not value.strip():
        return None, _error(f"Give a {kind} as a non-empty string.")
    if len(value) > _MAX_ID_LENGTH:
        return None, _error(f"That {kind} is too long to be valid.")
    return value.strip().upper(), None


def _order_not_found(order_id: str) -> dict[str, Any]:
    return _error(f"Order {order_id} not found.")


def _stock_entry(sku: str) -> dict[str, Any]:
    on_hand = _STOCK[sku]["on_hand"]
    if on_hand == 0:
        state = "out_of_stock"
    elif on_hand < _REORDER_THRESHOLD:
        state = "low_stock"
    else:
        state = "in_stock"
    return {
        "sku": sku,
        "name": _STOCK[sku]["name"],
        "on_hand": on_hand,
        "stock_state": state,
        "reorder_recommended": on_hand < _REORDER_THRESHOLD,
    }


def get_order_status(order_id: str) -> dict[str, Any]:
    """Look up an order's fulfilment status, the date it was placed and its items."""
    order_id, err = _normalise_id(order_id, "order id")
    if err:
        return err
    order = _ORDERS.get(order_id)
    if order is None:
        return _order_not_found(order_id)
    return {
        "status": "success",
        "order_id": order_id,
        "order_status": order["order_status"],
        "placed_date": order["placed_date"],
        "item_count": len(order["items"]),
        "items": [dict(item) for item in order["items"]],
    }


def get_shipping_details(order_id: str) -> dict[str, Any]:
    """Look up an order's carrier, tracking number and delivery date or ETA."""
    order_id, err = _normalise_id(order_id, "order id")
    if err:
        return err
    if order_id not in _ORDERS:
        return _order_not_found(order_id)
    shipment = _SHIPMENTS.get(order_id)
    if shipment is None:
        return {
            "status": "success",
            "order_id": order_id,
            "shipment_status": "not_shipped",
            "carrier": None,
            "tracking_number": None,
            "eta": None,
        }
    return {"status": "success", "order_id": order_id, **shipment}


def check_inventory(sku: str = "", order_id: str = "") -> dict[str, Any]:
    """Check on-hand stock and the reorder flag for one SKU, or for every SKU in an order."""
    if sku:
        sku, err = _normalise_id(sku, "SKU")
        if err:
            return err
        if sku not in _STOCK:
            return _error(f"SKU {sku} not found.")
        return {"status": "success", "items": [_stock_entry(sku)]}
    if order_id:
        order_id, err = _normalise_id(order_id, "order id")
        if err:
            return err
        order = _ORDERS.get(order_id)
        if order is None:
            return _order_not_found(order_id)
        return {
            "status": "success",
            "order_id": order_id,
            "items": [_stock_entry(item["sku"]) for item in order["items"]],
        }
    return _error("Give a SKU or an order id.")


def get_payment_status(order_id: str) -> dict[str, Any]:
    """Look up whether an order's payment is authorized, captured or failed, with its amount."""
    order_id, err = _normalise_id(order_id, "order id")
    if err:
        return err
    payment = _PAYMENTS.get(order_id)
    if payment is None:
        return _order_not_found(order_id)
    # Only whitelisted fields leave the gateway: card data never reaches a model or a trace.
    return {
        "status": "success",
        "order_id": order_id,
        **{field: payment[field] for field in _PUBLIC_PAYMENT_FIELDS},
    }
