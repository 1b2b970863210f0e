"""The four systems an order touches (order management, carrier, warehouse, payment
gateway), behind one small async interface each, from one of three sources:

- ``mock``: the article's demo data, in memory (the default);
- ``sqlite:///PATH``: an embedded database filled by ``track-order data import``;
- ``http(s)://HOST:PORT``: remote APIs speaking the contract of ``backends serve``.

:func:`open_backends` builds them from a :class:`BackendConfig` (``ORDER_BACKEND``); the
composition root does that once per process and hands them to the tools.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models.resilience import Breakers

from ..core.backend_settings import BackendConfig, BackendConfigError, parse_backend, system_url_var
from ..core.order_ids import DEFAULT, OrderIdPattern
from ._types import (
    SYSTEMS,
    BackendUnavailable,
    Carrier,
    Item,
    Order,
    OrderManagement,
    Payment,
    PaymentGateway,
    Shipment,
    StockLevel,
    Warehouse,
)

__all__ = [
    "SYSTEMS",
    "BackendConfig",
    "BackendConfigError",
    "BackendUnavailable",
    "Backends",
    "Carrier",
    "Item",
    "Order",
    "OrderManagement",
    "Payment",
    "PaymentGateway",
    "Shipment",
    "StockLevel",
    "Warehouse",
    "mock_backends",
    "open_backends",
    "parse_backend",
    "system_url_var",
]


@dataclass(frozen=True)
class Backends:
    """One adapter per system, and how to release what they hold (connections)."""

    oms: OrderManagement
    carrier: Carrier
    warehouse: Warehouse
    payments: PaymentGateway
    source: str = "mock"
    _closers: tuple[Callable[[], Awaitable[None]], ...] = field(default=(), repr=False)
    # The remote systems' circuit breakers (what the metrics report); None without any.
    breakers: Breakers | None = field(default=None, repr=False)

    async def aclose(self) -> None:
        for close in self._closers:
            await close()


def mock_backends(
    orders: Any = None, stock: Any = None, order_ids: OrderIdPattern = DEFAULT
) -> Backends:
    """The article's data (or the records given, in the import format, their ids by
    ``order_ids``) in memory."""
    from ._mock import ARTICLE_ORDERS, ARTICLE_STOCK, MockBackend

    backend = MockBackend(orders or ARTICLE_ORDERS, stock or ARTICLE_STOCK, order_ids)
    return Backends(backend, backend, backend, backend)


def open_backends(
    config: BackendConfig, order_ids: OrderIdPattern = DEFAULT, **http_options: Any
) -> Backends:
    """The adapters ``config`` names, their records' ids re-checked against ``order_ids``. An
    SQLite database that does not exist or is not ours raises ``BackendConfigError``; remote
    APIs are not contacted until the first lookup. ``http_options`` go to
    :class:`~._http.HttpBackends` (a transport for tests, the circuit listener)."""
    if config.kind == "sqlite":
        from ._sqlite import SqliteBackend

        assert config.path is not None
        db = SqliteBackend.open(config.path, order_ids)
        return Backends(db, db, db, db, config.describe(), (db.aclose,))
    if config.kind == "http":
        from ._http import HttpBackends

        remote = HttpBackends(config, order_ids=order_ids, **http_options)
        return Backends(
            remote.oms,
            remote.carrier,
            remote.warehouse,
            remote.payments,
            config.describe(),
            (remote.aclose,),
            remote.breakers,
        )
    return mock_backends()  # the article's ids are ids by the default pattern, whatever is set
