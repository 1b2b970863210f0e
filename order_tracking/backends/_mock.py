"""The article's demo data: three orders, three SKUs, in memory. The default source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._types import Item, Order, Payment, Shipment, StockLevel

__all__ = ["ARTICLE_ORDERS", "ARTICLE_STOCK", "MockBackend"]

# One record per order in the import format (see ``data/_records.py``): the article's data, also the
# fixture the other sources are checked against. The payment gateway's card data is here on
# purpose: it is what the adapter must never hand on.
ARTICLE_ORDERS: tuple[dict[str, Any], ...] = (
    {
        "order_id": "ORD-1001",
        "status": "shipped",
        "placed_date": "2024-01-15",
        "items": [
            {"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 1},
            {"sku": "SKU-KBD-07", "name": "Mechanical keyboard", "quantity": 1},
        ],
        "shipment": {
            "status": "in_transit",
            "carrier": "UPS",
            "tracking_number": "1Z999AA1012345678",
            "shipped_date": "2024-01-16",
            "eta": "2024-01-18",
        },
        "payment": {"status": "captured", "amount": 299.99, "currency": "USD"},
    },
    {
        "order_id": "ORD-1002",
        "status": "processing",
        "placed_date": "2024-01-17",
        "items": [
            {"sku": "SKU-MON-22", "name": "27-inch monitor", "quantity": 1},
            {"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 2},
        ],
        "payment": {"status": "authorized", "amount": 449.00, "currency": "USD"},
    },
    {
        "order_id": "ORD-1003",
        "status": "delivered",
        "placed_date": "2024-01-05",
        "items": [{"sku": "SKU-KBD-07", "name": "Mechanical keyboard", "quantity": 1}],
        "shipment": {
            "status": "delivered",
            "carrier": "FedEx",
            "tracking_number": "771234567890",
            "shipped_date": "2024-01-06",
            "delivered_date": "2024-01-09",
        },
        "payment": {"status": "captured", "amount": 89.50, "currency": "USD"},
    },
)
ARTICLE_STOCK: tuple[dict[str, Any], ...] = (
    {"sku": "SKU-APL-01", "name": "Wireless earbuds", "on_hand": 150},
    {"sku": "SKU-KBD-07", "name": "Mechanical keyboard", "on_hand": 3},
    {"sku": "SKU-MON-22", "name": "27-inch monitor", "on_hand": 0},
)
_CARDS = {
    "ORD-1001": {"card_number": "4111111111111111", "card_expiry": "12/27"},
    "ORD-1002": {"card_number": "5500005555555559", "card_expiry": "03/26"},
    "ORD-1003": {"card_number": "340000000000009", "card_expiry": "08/25"},
}


def order_from_record(record: dict[str, Any]) -> Order:
    return Order(
        order_id=record["order_id"],
        status=record["status"],
        placed_date=record["placed_date"],
        items=tuple(Item(i["sku"], i["name"], i["quantity"]) for i in record["items"]),
    )


class MockBackend:
    """All four systems over in-memory records (the article's by default). Ids are matched
    case-insensitively, as the database does."""

    def __init__(
        self,
        orders: Sequence[dict[str, Any]] = ARTICLE_ORDERS,
        stock: Sequence[dict[str, Any]] = ARTICLE_STOCK,
    ) -> None:
        self._orders = {r["order_id"].upper(): order_from_record(r) for r in orders}
        self._shipments = {
            r["order_id"].upper(): Shipment(order_id=r["order_id"], **r["shipment"])
            for r in orders
            if r.get("shipment")
        }
        # The gateway's own records, card data included (see _CARDS).
        self._payments = {
            r["order_id"].upper(): {
                "order_id": r["order_id"],
                **r["payment"],
                **_CARDS.get(r["order_id"], {}),
            }
            for r in orders
            if r.get("payment")
        }
        self._stock = {
            s["sku"].upper(): StockLevel(s["sku"], s["name"], s["on_hand"]) for s in stock
        }

    async def get_order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id.upper())

    async def get_shipment(self, order_id: str) -> Shipment | None:
        return self._shipments.get(order_id.upper())

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        return [self._stock[s.upper()] for s in skus if s.upper() in self._stock]

    async def get_payment(self, order_id: str) -> Payment | None:
        record = self._payments.get(order_id.upper())
        if record is None:
            return None
        # Only these fields leave the gateway adapter.
        return Payment(record["order_id"], record["status"], record["amount"], record["currency"])
