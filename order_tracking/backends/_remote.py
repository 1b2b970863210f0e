"""The four systems' records as the HTTP contract has them: each adapter asks the client
(``_http.py``) for a record and checks it field by field. Whatever does not fit (a missing
field, a wrong type, a number that is not one) is the system failing, ``BackendUnavailable``,
never a crash; a payment's fields beyond status, amount and currency (card data) are never
read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from ._types import BackendUnavailable, Item, Order, Payment, Shipment, StockLevel

__all__ = [
    "MAX_SKUS_PER_CALL",
    "Caller",
    "RemoteCarrier",
    "RemoteOms",
    "RemotePayments",
    "RemoteWarehouse",
]

MAX_SKUS_PER_CALL = 100
MAX_NUMBER = 1e15


class Caller(Protocol):
    async def call(self, system: str, path: str, params: Any = None) -> dict[str, Any] | None:
        """The record at ``path``, ``None`` when the system has none."""
        ...


class _Malformed(ValueError):
    """The record does not fit the contract."""


def _fields(body: Any, required: Sequence[str], system: str) -> dict[str, Any]:
    if not isinstance(body, dict) or any(k not in body for k in required):
        raise _Malformed(f"the {system} answer is not a record of the contract")
    return body


def _string(value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Malformed("a field of the answer has the wrong type")
    return value


def _number(value: Any, kind: type) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float) if kind is float else int)
        or not -MAX_NUMBER <= value <= MAX_NUMBER  # before isfinite: 10**400 is an int
        or not math.isfinite(value)
    ):
        raise _Malformed("a number in the answer is not a number")
    return kind(value)


def _id(order_id: str) -> str:
    # Every character but letters, digits and -_~ escaped, dots too: "." and ".." must not
    # become path steps that httpx would resolve to another route.
    return quote(order_id, safe="").replace(".", "%2E")


class RemoteOms:
    def __init__(self, http: Caller) -> None:
        self.http = http

    async def get_order(self, order_id: str) -> Order | None:
        body = await self.http.call("oms", f"/oms/orders/{_id(order_id)}")
        if body is None:
            return None
        try:
            record = _fields(body, ("order_id", "status", "placed_date", "items"), "oms")
            if not isinstance(record["items"], list):
                raise _Malformed("items is not a list")
            items = tuple(
                Item(_string(i["sku"]), _string(i["name"]), _number(i["quantity"], int))
                for i in (_fields(i, ("sku", "name", "quantity"), "oms") for i in record["items"])
            )
            return Order(
                _string(record["order_id"]),
                _string(record["status"]),
                _string(record["placed_date"]),
                items,
            )
        except _Malformed as exc:
            raise BackendUnavailable("oms", str(exc)) from None


class RemoteCarrier:
    def __init__(self, http: Caller) -> None:
        self.http = http

    async def get_shipment(self, order_id: str) -> Shipment | None:
        body = await self.http.call("carrier", f"/carrier/shipments/{_id(order_id)}")
        if body is None:
            return None
        try:
            record = _fields(body, ("order_id", "status"), "carrier")
            optional = ("carrier", "tracking_number", "shipped_date", "eta", "delivered_date")
            return Shipment(
                _string(record["order_id"]),
                _string(record["status"]),
                **{k: _string(record.get(k), optional=True) for k in optional},
            )
        except _Malformed as exc:
            raise BackendUnavailable("carrier", str(exc)) from None


class RemoteWarehouse:
    def __init__(self, http: Caller) -> None:
        self.http = http

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        found: list[StockLevel] = []
        for start in range(0, len(skus), MAX_SKUS_PER_CALL):
            chunk = list(skus[start : start + MAX_SKUS_PER_CALL])
            body = await self.http.call("warehouse", "/warehouse/stock", {"sku": chunk})
            try:
                items = _fields(body, ("items",), "warehouse")["items"]
                if not isinstance(items, list):
                    raise _Malformed("items is not a list")
                found += [
                    StockLevel(_string(s["sku"]), _string(s["name"]), _number(s["on_hand"], int))
                    for s in (_fields(s, ("sku", "name", "on_hand"), "warehouse") for s in items)
                ]
            except _Malformed as exc:
                raise BackendUnavailable("warehouse", str(exc)) from None
        return found


class RemotePayments:
    def __init__(self, http: Caller) -> None:
        self.http = http

    async def get_payment(self, order_id: str) -> Payment | None:
        body = await self.http.call("payments", f"/payments/{_id(order_id)}")
        if body is None:
            return None
        try:
            record = _fields(body, ("order_id", "status", "amount", "currency"), "payments")
            # Only these four fields are read: whatever else the gateway sends (card data)
            # is dropped here.
            return Payment(
                _string(record["order_id"]),
                _string(record["status"]),
                _number(record["amount"], float),
                _string(record["currency"]),
            )
        except _Malformed as exc:
            raise BackendUnavailable("payments", str(exc)) from None
