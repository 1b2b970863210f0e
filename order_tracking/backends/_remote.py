"""The four systems' records as the HTTP contract has them: each adapter asks the client
(``_http.py``, which bounds the answer's size) for a record and builds it through the checks
every source shares (``_checked.py``, on ``core/inbound.py``). Whatever does not fit (a
missing field, a wrong type, a number that is not one, a control character, a record for
another order) is the system failing, ``BackendUnavailable``, never a crash; a payment's fields
beyond status, amount and currency (card data) are never read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from ..core import inbound
from ..core.order_ids import DEFAULT, OrderIdPattern
from . import _checked as checked
from ._types import BackendUnavailable, Order, Payment, Shipment, StockLevel

__all__ = [
    "MAX_SKUS_PER_CALL",
    "Caller",
    "RemoteCarrier",
    "RemoteOms",
    "RemotePayments",
    "RemoteWarehouse",
]

MAX_SKUS_PER_CALL = 100


class Caller(Protocol):
    async def call(self, system: str, path: str, params: Any = None) -> dict[str, Any] | None:
        """The record at ``path``, ``None`` when the system has none."""
        ...


def _id(order_id: str) -> str:
    # Every character but letters, digits and -_~ escaped, dots too: "." and ".." must not
    # become path steps that httpx would resolve to another route.
    return quote(order_id, safe="").replace(".", "%2E")


class _Remote:
    system = ""

    def __init__(self, http: Caller, order_ids: OrderIdPattern = DEFAULT) -> None:
        self.http, self.order_ids = http, order_ids

    def refused(self, exc: inbound.Refused) -> BackendUnavailable:
        return BackendUnavailable(self.system, f"the answer does not fit the contract: {exc}")


class RemoteOms(_Remote):
    system = "oms"

    async def get_order(self, order_id: str) -> Order | None:
        body = await self.http.call("oms", f"/oms/orders/{_id(order_id)}")
        if body is None:
            return None
        try:
            return checked.order(body, self.order_ids, order_id)
        except inbound.Refused as exc:
            raise self.refused(exc) from None


class RemoteCarrier(_Remote):
    system = "carrier"

    async def get_shipment(self, order_id: str) -> Shipment | None:
        body = await self.http.call("carrier", f"/carrier/shipments/{_id(order_id)}")
        if body is None:
            return None
        try:
            return checked.shipment(body, checked.keyed(body, self.order_ids, order_id))
        except inbound.Refused as exc:
            raise self.refused(exc) from None


class RemoteWarehouse(_Remote):
    system = "warehouse"

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        found: list[StockLevel] = []
        for start in range(0, len(skus), MAX_SKUS_PER_CALL):
            chunk = list(skus[start : start + MAX_SKUS_PER_CALL])
            body = await self.http.call("warehouse", "/warehouse/stock", {"sku": chunk})
            asked = {sku.upper() for sku in chunk}
            try:
                items = inbound.fields(body, "", ("items",), ("items",))["items"]
                if not isinstance(items, list) or len(items) > len(chunk):
                    raise inbound.Refused("items: must be a list of the SKUs asked for")
                levels = [checked.stock(s, f"items[{n}]") for n, s in enumerate(items)]
                if any(level.sku.upper() not in asked for level in levels):
                    raise inbound.Refused("items: a SKU that was not asked for")
                if len({level.sku.upper() for level in levels}) != len(levels):
                    raise inbound.Refused("items: a SKU twice")  # which of the two is true?
            except inbound.Refused as exc:
                raise self.refused(exc) from None
            found += levels
        return found


class RemotePayments(_Remote):
    system = "payments"

    async def get_payment(self, order_id: str) -> Payment | None:
        body = await self.http.call("payments", f"/payments/{_id(order_id)}")
        if body is None:
            return None
        try:
            # Only status, amount and currency are read: whatever else the gateway sends (card
            # data) is dropped here.
            return checked.payment(body, checked.keyed(body, self.order_ids, order_id))
        except inbound.Refused as exc:
            raise self.refused(exc) from None
