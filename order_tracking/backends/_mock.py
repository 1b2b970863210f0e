"""The article's demo data: three orders, three SKUs, in memory. The default source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.order_ids import DEFAULT, OrderIdPattern
from . import _checked as checked
from ._types import Order, Payment, Shipment, StockLevel

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


class MockBackend:
    """All four systems over in-memory records (the article's by default), built through the
    checks every source shares (``_checked.py``): records given in the import format are held
    to the same rules as a database's. Ids are matched by ``order_ids.key`` (whatever their
    case), as the database does."""

    def __init__(
        self,
        orders: Sequence[dict[str, Any]] = ARTICLE_ORDERS,
        stock: Sequence[dict[str, Any]] = ARTICLE_STOCK,
        order_ids: OrderIdPattern = DEFAULT,
    ) -> None:
        key = self._key = order_ids.key
        self._orders: dict[str, Order] = {}
        self._shipments: dict[str, Shipment] = {}
        self._payments: dict[str, Payment] = {}
        for record in orders:
            order = checked.order(record, order_ids)
            self._orders[key(order.order_id)] = order
            if record.get("shipment"):
                shipment = checked.shipment(record["shipment"], order.order_id, "shipment")
                self._shipments[key(order.order_id)] = shipment
            if record.get("payment"):
                # The gateway's own record has card data (see _CARDS); only status, amount
                # and currency leave the adapter.
                raw = {**record["payment"], **_CARDS.get(order.order_id, {})}
                self._payments[key(order.order_id)] = checked.payment(
                    raw, order.order_id, "payment"
                )
        self._stock = {s["sku"].upper(): checked.stock(s) for s in stock}

    async def get_order(self, order_id: str) -> Order | None:
        return self._orders.get(self._key(order_id))

    async def get_shipment(self, order_id: str) -> Shipment | None:
        return self._shipments.get(self._key(order_id))

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        return [self._stock[s.upper()] for s in skus if s.upper() in self._stock]

    async def get_payment(self, order_id: str) -> Payment | None:
        return self._payments.get(self._key(order_id))
