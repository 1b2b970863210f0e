"""``track-order data generate``: deterministic synthetic orders for load tests and benchmarks.

The same ``n`` and ``seed`` always give the same lines. The mix is shaped like a shop's:
most orders shipped or delivered, some processing or pending, a few cancelled or returned;
four carriers; payments authorized, captured, failed or refunded as the order's state says.
Stock lines (a catalogue of ``catalogue_size(n)`` SKUs, some low or out of stock) come first.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import Any

__all__ = ["catalogue_size", "generate", "order_id"]

_CARRIERS = (("UPS", 0.35), ("FedEx", 0.25), ("USPS", 0.25), ("DHL", 0.15))
# (order status, shipment status or None, payment statuses to pick from), with weights.
_STATES = (
    (("pending", None, ("authorized", "failed")), 0.05),
    (("processing", None, ("authorized",)), 0.15),
    (("shipped", "in_transit", ("captured",)), 0.30),
    (("shipped", "out_for_delivery", ("captured",)), 0.08),
    (("delivered", "delivered", ("captured",)), 0.32),
    (("cancelled", None, ("refunded",)), 0.05),
    (("returned", "delivered", ("refunded",)), 0.05),
)
_PRODUCTS = (
    "Wireless earbuds",
    "Mechanical keyboard",
    "27-inch monitor",
    "USB-C hub",
    "Laptop stand",
    "Webcam",
    "Desk lamp",
    "Noise-cancelling headphones",
    "Portable SSD",
    "Ergonomic mouse",
)
_EPOCH = dt.date(2024, 1, 1)


def order_id(n: int) -> str:
    """The id of the ``n``-th generated order (from 0); never one of the article's."""
    return f"ORD-{10_000_000 + n}"


def catalogue_size(n: int) -> int:
    return max(10, min(10_000, n // 20))


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=16))
    if carrier == "DHL":
        return "".join(rng.choices("0123456789", k=10))
    return "".join(rng.choices("0123456789", k=12 if carrier == "FedEx" else 22))


def _stock(rng: random.Random, skus: int) -> Iterator[dict[str, Any]]:
    for i in range(skus):
        roll = rng.random()
        on_hand = 0 if roll < 0.05 else rng.randint(1, 9) if roll < 0.2 else rng.randint(10, 500)
        yield {
            "sku": f"SKU-{i:05d}",
            "name": f"{_PRODUCTS[i % len(_PRODUCTS)]} {i}",
            "on_hand": on_hand,
        }


def _order(rng: random.Random, n: int, skus: int) -> dict[str, Any]:
    status, shipment_status, payments = _pick(rng, _STATES)
    placed = _EPOCH + dt.timedelta(days=rng.randrange(365))
    items = []
    for sku in rng.sample(range(skus), k=min(skus, rng.choice((1, 1, 1, 2, 2, 3, 4)))):
        items.append(
            {
                "sku": f"SKU-{sku:05d}",
                "name": f"{_PRODUCTS[sku % len(_PRODUCTS)]} {sku}",
                "quantity": rng.choice((1, 1, 1, 2, 3)),
            }
        )
    record: dict[str, Any] = {
        "order_id": order_id(n),
        "status": status,
        "placed_date": placed.isoformat(),
        "items": items,
    }
    if shipment_status:
        carrier = _pick(rng, _CARRIERS)
        shipped = placed + dt.timedelta(days=rng.randint(0, 3))
        shipment = {
            "status": shipment_status,
            "carrier": carrier,
            "tracking_number": _tracking(rng, carrier),
            "shipped_date": shipped.isoformat(),
        }
        if shipment_status == "delivered":
            shipment["delivered_date"] = (
                shipped + dt.timedelta(days=rng.randint(1, 6))
            ).isoformat()
        else:
            shipment["eta"] = (shipped + dt.timedelta(days=rng.randint(1, 7))).isoformat()
        record["shipment"] = shipment
    cents = sum(rng.randint(999, 49_999) * i["quantity"] for i in items)
    record["payment"] = {"status": rng.choice(payments), "amount": cents / 100, "currency": "USD"}
    return record


def generate(n: int, seed: int = 0) -> Iterator[str]:
    """The lines (without newlines): ``catalogue_size(n)`` stock levels, then ``n`` orders."""
    rng = random.Random(seed)
    skus = catalogue_size(n)
    for record in _stock(rng, skus):
        yield json.dumps(record, separators=(",", ":"))
    for i in range(n):
        yield json.dumps(_order(rng, i, skus), separators=(",", ":"))
