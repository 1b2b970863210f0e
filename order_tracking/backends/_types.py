"""What the four systems answer, as plain data, and the interface each one implements.

Every source (the article's data, an SQLite database, remote APIs) implements the same four
small async protocols. A record is a frozen dataclass of plain values; statuses are open
strings (a source's own ``pending`` or ``returned`` is passed on as it is, never dropped).
Card data has no field here: an adapter that reads it from its source leaves it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..core.backend_settings import SYSTEMS

__all__ = [
    "SYSTEMS",
    "BackendUnavailable",
    "Carrier",
    "Item",
    "Order",
    "OrderManagement",
    "Payment",
    "PaymentGateway",
    "Shipment",
    "StockLevel",
    "Warehouse",
]


class BackendUnavailable(Exception):
    """A system could not answer (down, timing out, refusing, answering nonsense, circuit
    open). ``system`` is a key of ``SYSTEMS``; the message says what happened, in one line."""

    def __init__(self, system: str, reason: str) -> None:
        super().__init__(f"the {SYSTEMS.get(system, system)} system is unavailable ({reason})")
        self.system = system
        self.reason = reason


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class Order:
    order_id: str
    status: str
    placed_date: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Shipment:
    order_id: str
    status: str
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_date: str | None = None
    eta: str | None = None
    delivered_date: str | None = None


@dataclass(frozen=True)
class Payment:
    order_id: str
    status: str
    amount: float
    currency: str


@dataclass(frozen=True)
class StockLevel:
    sku: str
    name: str
    on_hand: int


@runtime_checkable
class OrderManagement(Protocol):
    async def get_order(self, order_id: str) -> Order | None:
        """The order, or None if the system has no such order."""
        ...


@runtime_checkable
class Carrier(Protocol):
    async def get_shipment(self, order_id: str) -> Shipment | None:
        """The order's shipment, or None if nothing has been handed to a carrier."""
        ...


@runtime_checkable
class Warehouse(Protocol):
    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        """Stock of the SKUs the warehouse knows, in the order asked; unknown ones left out."""
        ...


@runtime_checkable
class PaymentGateway(Protocol):
    async def get_payment(self, order_id: str) -> Payment | None:
        """The order's payment (never card data), or None if the gateway has none."""
        ...
