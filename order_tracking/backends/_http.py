"""The remote systems over HTTP: one pooled ``httpx.AsyncClient`` per process (per event loop),
a timeout per call, retries with backoff and jitter on connection errors, 5xx and 429
(honouring ``Retry-After``), none on other 4xx, a circuit breaker per system, an auth header.

The contract (``backends serve`` implements it; see ``server.py``): ``GET`` a record by id,
``200`` with the record as JSON, ``404`` with ``{"code": "not_found"}`` when there is none.
Any other answer (a 404 without that code, a body that is not the record) is the system
failing, never "not found": a wrong base URL must not pass for an empty database.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from ..resilience import Breakers, CircuitOpenError
from ._config import BackendConfig
from ._spans import span_attributes
from ._types import BackendUnavailable, Item, Order, Payment, Shipment, StockLevel

__all__ = ["HttpBackends", "MAX_SKUS_PER_CALL", "NOT_FOUND"]

NOT_FOUND = {"code": "not_found"}
MAX_SKUS_PER_CALL = 100
MAX_BODY_BYTES = 1 << 20
MAX_RETRY_AFTER_S = 30.0
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class _Failed(ConnectionError):
    """One attempt failed in a way that says the system is in trouble (counts against its
    circuit); ``retry`` says whether another attempt may help."""

    def __init__(self, reason: str, *, retry: bool = True, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry, self.after_s = retry, after_s


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(max(0.0, float(response.headers["retry-after"])), MAX_RETRY_AFTER_S)
    except (KeyError, ValueError):
        return None


def _fields(body: Any, required: Sequence[str], system: str) -> dict[str, Any]:
    if not isinstance(body, dict) or any(k not in body for k in required):
        raise _Failed(f"the {system} answer is not a record of the contract", retry=False)
    return body


def _string(value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Failed("a field of the answer has the wrong type", retry=False)
    return value


def _number(value: Any, kind: type) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float) if kind is float else int)
        or not math.isfinite(value)
    ):
        raise _Failed("a number in the answer is not a number", retry=False)
    return kind(value)


class HttpBackends:
    """The four remote systems. ``transport`` replaces the network (tests); ``sleep`` and
    ``rng`` make the backoff deterministic (tests)."""

    def __init__(
        self,
        config: BackendConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_circuit_change: Callable[[str, str, str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        circuit_threshold: int = 5,
        circuit_cooldown_s: float = 30.0,
    ) -> None:
        self.urls: Mapping[str, str] = config.urls
        self.timeout_s, self.retries = config.timeout_s, config.retries
        self._headers = {"Accept": "application/json", "User-Agent": "order-tracking"}
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"
        self._transport, self._sleep, self._rng = transport, sleep, rng or random.Random()
        self.breakers = Breakers(circuit_threshold, circuit_cooldown_s, on_circuit_change)
        # A client's connections belong to the event loop that opened them.
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self.oms, self.carrier = _Oms(self), _Carrier(self)
        self.warehouse, self.payments = _Warehouse(self), _Payments(self)

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [old for old in self._clients if old.is_closed()]:
                del self._clients[stale]
            client = self._clients[loop] = httpx.AsyncClient(
                transport=self._transport,
                headers=self._headers,
                timeout=httpx.Timeout(self.timeout_s),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                follow_redirects=False,
            )
        return client

    def _backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to 0.1 s, 0.2 s, 0.4 s... (at most 5 s)."""
        return self._rng.uniform(0, min(5.0, 0.1 * 2**attempt))

    async def call(self, system: str, path: str, params: Any = None) -> dict[str, Any] | None:
        """``GET`` one record: the JSON object, ``None`` for the contract's not-found, or
        ``BackendUnavailable`` after the retries (or at once with the circuit open)."""
        start, attempts, status = time.perf_counter(), 0, None
        try:
            while True:
                attempts += 1
                try:
                    async with self.breakers.attempt(system):
                        status, body = await self._once(system, path, params)
                        return body
                except CircuitOpenError:
                    raise BackendUnavailable(
                        system, "circuit open after repeated failures"
                    ) from None
                except _Failed as exc:
                    if not exc.retry or attempts > self.retries:
                        tries = f" after {attempts} attempts" if attempts > 1 else ""
                        raise BackendUnavailable(system, f"{exc}{tries}") from exc
                    await self._sleep(
                        exc.after_s if exc.after_s is not None else self._backoff(attempts)
                    )
        finally:
            span_attributes(
                {
                    "backend.system": system,
                    "http.request.method": "GET",
                    "url.path": path,
                    "http.response.status_code": status,
                    "backend.retries": attempts - 1,
                    "backend.duration_ms": round((time.perf_counter() - start) * 1000, 2),
                }
            )

    async def _once(self, system: str, path: str, params: Any) -> tuple[int, dict[str, Any] | None]:
        try:
            async with self._client().stream(
                "GET", self.urls[system] + path, params=params
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise _Failed("the answer is too large", retry=False)
        except httpx.TimeoutException:
            raise _Failed(f"no answer within {self.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            raise _Failed(f"{type(exc).__name__}: {str(exc)[:80] or 'connection failed'}") from None
        code = response.status_code
        if code in _RETRY_STATUS:
            raise _Failed(
                f"HTTP {code}", after_s=_retry_after(response) if code in (429, 503) else None
            )
        if code >= 500:
            raise _Failed(f"HTTP {code}")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
            if code == 200:
                raise _Failed("the answer is not JSON", retry=False) from None
        if code == 404 and isinstance(parsed, dict) and parsed.get("code") == NOT_FOUND["code"]:
            return code, None
        if code in (401, 403):
            raise _Failed(f"HTTP {code}: refused our credentials (BACKEND_API_KEY)", retry=False)
        if code != 200:
            raise _Failed(f"HTTP {code} is not an answer of the contract", retry=False)
        if not isinstance(parsed, dict):
            raise _Failed("the answer is not a JSON object", retry=False)
        return code, parsed

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.items()), {}
        for loop, client in clients:
            if loop is asyncio.get_running_loop():
                await client.aclose()


def _id(order_id: str) -> str:
    return quote(order_id, safe="")


class _Oms:
    def __init__(self, http: HttpBackends) -> None:
        self.http = http

    async def get_order(self, order_id: str) -> Order | None:
        body = await self.http.call("oms", f"/oms/orders/{_id(order_id)}")
        if body is None:
            return None
        try:
            record = _fields(body, ("order_id", "status", "placed_date", "items"), "oms")
            if not isinstance(record["items"], list):
                raise _Failed("items is not a list", retry=False)
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
        except _Failed as exc:
            raise BackendUnavailable("oms", str(exc)) from None


class _Carrier:
    def __init__(self, http: HttpBackends) -> None:
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
        except _Failed as exc:
            raise BackendUnavailable("carrier", str(exc)) from None


class _Warehouse:
    def __init__(self, http: HttpBackends) -> None:
        self.http = http

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        found: list[StockLevel] = []
        for start in range(0, len(skus), MAX_SKUS_PER_CALL):
            chunk = list(skus[start : start + MAX_SKUS_PER_CALL])
            body = await self.http.call("warehouse", "/warehouse/stock", {"sku": chunk})
            try:
                items = _fields(body, ("items",), "warehouse")["items"]
                if not isinstance(items, list):
                    raise _Failed("items is not a list", retry=False)
                found += [
                    StockLevel(_string(s["sku"]), _string(s["name"]), _number(s["on_hand"], int))
                    for s in (_fields(s, ("sku", "name", "on_hand"), "warehouse") for s in items)
                ]
            except _Failed as exc:
                raise BackendUnavailable("warehouse", str(exc)) from None
        return found


class _Payments:
    def __init__(self, http: HttpBackends) -> None:
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
        except _Failed as exc:
            raise BackendUnavailable("payments", str(exc)) from None
