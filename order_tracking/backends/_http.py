"""The remote systems over HTTP: one pooled ``httpx.AsyncClient`` per process (per event loop),
a timeout per call, retries with backoff and jitter on connection errors, 5xx and 429
(honouring ``Retry-After``), none on other 4xx, a circuit breaker per system, an auth header.

The contract (``backends serve`` implements it; see ``http/backend_api.py``): ``GET`` a record by id,
``200`` with the record as JSON, ``404`` with ``{"code": "not_found"}`` when there is none.
Any other answer (a 404 without that code, a body that is not the record) is the system
failing, never "not found": a wrong base URL must not pass for an empty database.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from ..core import inbound
from ..core.backend_settings import BackendConfig
from ..core.order_ids import DEFAULT, OrderIdPattern
from ..models.resilience import Breakers, CircuitOpenError, current_usage
from ._remote import MAX_SKUS_PER_CALL, RemoteCarrier, RemoteOms, RemotePayments, RemoteWarehouse
from ._spans import span_attributes
from ._types import BackendUnavailable

__all__ = ["HttpBackends", "MAX_SKUS_PER_CALL", "NOT_FOUND"]

NOT_FOUND = {"code": "not_found"}
MAX_BODY_BYTES = inbound.MAX_BYTES  # every peer's answer has this bound (core/inbound.py)
MAX_RETRY_AFTER_S = 30.0
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class _Failed(ConnectionError):
    """One attempt failed in a way that says the system is in trouble (counts against its
    circuit); ``retry`` says whether another attempt may help."""

    def __init__(
        self,
        reason: str,
        *,
        retry: bool = True,
        after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.retry, self.after_s, self.status = retry, after_s, status


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(max(0.0, float(response.headers["retry-after"])), MAX_RETRY_AFTER_S)
    except (KeyError, ValueError):
        return None


class HttpBackends:
    """The four remote systems; ``order_ids``, the pattern their records' ids are re-checked
    against. ``transport`` replaces the network (tests); ``sleep`` and ``rng`` make the backoff
    deterministic (tests)."""

    def __init__(
        self,
        config: BackendConfig,
        *,
        order_ids: OrderIdPattern = DEFAULT,
        transport: httpx.AsyncBaseTransport | None = None,
        on_circuit_change: Callable[[str, str, str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        circuit_threshold: int = 5,
        circuit_cooldown_s: float = 30.0,
    ) -> None:
        self.urls: Mapping[str, str] = config.urls
        self.timeout_s, self.retries = config.timeout_s, config.retries
        # Identity encoding: the body-size cap counts what arrives, not what it inflates to.
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": "order-tracking",
        }
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"
        self._transport, self._sleep, self._rng = transport, sleep, rng or random.Random()
        self.breakers = Breakers(circuit_threshold, circuit_cooldown_s, on_circuit_change)
        # A client's connections belong to the event loop that opened them.
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self.oms, self.carrier = RemoteOms(self, order_ids), RemoteCarrier(self, order_ids)
        self.warehouse = RemoteWarehouse(self, order_ids)
        self.payments = RemotePayments(self, order_ids)

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
        ``BackendUnavailable`` after the retries (or at once with the circuit open). The
        breaker judges the call, not each attempt: "5 failed calls in a row" means calls."""
        start, attempts, status = time.perf_counter(), 0, None
        try:
            async with self.breakers.attempt(system):
                while True:
                    attempts += 1
                    try:
                        status, body = await self._once(system, path, params)
                        return body
                    except _Failed as exc:
                        status = exc.status
                        if not exc.retry or attempts > self.retries:
                            raise
                        await self._sleep(self._wait(system, exc, attempts))
        except CircuitOpenError:
            raise BackendUnavailable(system, "circuit open after repeated failures") from None
        except _Failed as exc:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            raise BackendUnavailable(system, f"{exc}{tries}") from exc
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

    def _wait(self, system: str, failure: _Failed, attempts: int) -> float:
        """The pause before the next attempt: what the system asked for, else backoff; a
        pause that would outlast the agent's deadline is not taken (the call fails now)."""
        wait = failure.after_s if failure.after_s is not None else self._backoff(attempts)
        usage = current_usage()
        if usage is not None and usage.deadline_at is not None:
            if time.monotonic() + wait >= usage.deadline_at:
                raise failure
        return wait

    async def _once(self, system: str, path: str, params: Any) -> tuple[int, dict[str, Any] | None]:
        try:
            # The whole call, however slowly the bytes arrive (httpx's timeout is per read).
            async with asyncio.timeout(self.timeout_s):
                code, body = await self._get(self.urls[system] + path, params)
        except TimeoutError:
            raise _Failed(f"no answer within {self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:  # connection, protocol, decoding
            raise _Failed(f"{type(exc).__name__}: {str(exc)[:80] or 'connection failed'}") from None
        if code in _RETRY_STATUS:
            raise _Failed(f"HTTP {code}", status=code, after_s=body if code in (429, 503) else None)
        if code >= 500:
            raise _Failed(f"HTTP {code}", status=code)
        try:
            parsed = inbound.loads(body) if body else None
        except inbound.Refused as exc:
            parsed = None
            if code == 200:
                reason = "the answer is not JSON" if "not JSON" in str(exc) else str(exc)
                raise _Failed(reason, retry=False, status=code) from None
        if code == 404 and isinstance(parsed, dict) and parsed.get("code") == NOT_FOUND["code"]:
            return code, None
        if code in (401, 403):
            raise _Failed(
                f"HTTP {code}: refused our credentials (BACKEND_API_KEY)", retry=False, status=code
            )
        if code != 200:
            raise _Failed(f"HTTP {code} is not an answer of the contract", retry=False, status=code)
        if not isinstance(parsed, dict):
            raise _Failed("the answer is not a JSON object", retry=False, status=code)
        return code, parsed

    async def _get(self, url: str, params: Any) -> tuple[int, Any]:
        """Status and body (for 429/503: the ``Retry-After`` seconds instead), at most
        ``MAX_BODY_BYTES`` of it."""
        async with self._client().stream("GET", url, params=params) as response:
            if response.status_code in (429, 503):
                return response.status_code, _retry_after(response)
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                # Asked for identity: a compressed body could inflate past any cap.
                raise _Failed("the answer is compressed, identity was asked", retry=False)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise _Failed("the answer is too large", retry=False)
        return response.status_code, bytes(body)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.items()), {}
        for loop, client in clients:
            if loop is asyncio.get_running_loop():
                await client.aclose()
