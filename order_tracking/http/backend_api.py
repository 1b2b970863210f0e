"""The backends' REST contract, and its reference implementation: ``track-order backends
serve``. What the HTTP client (``backends/_http.py``) speaks; what a company puts in front of its own
order management, carrier, warehouse and payment systems, or implements itself.

GET /oms/orders/{order_id}          the order and its items
GET /carrier/shipments/{order_id}   its shipment (404 when nothing has shipped)
GET /warehouse/stock?sku=A&sku=B    stock of the SKUs known (unknown ones left out)
GET /payments/{order_id}            its payment: status, amount, currency, never card data
GET /health

The records are ``backends/_types.py``'s dataclasses, as JSON. A missing record is ``404`` with
``{"detail": ..., "code": "not_found"}``: the client takes any other 404 as a misconfigured URL,
not as "no such order". Ids are percent-encoded path segments (a ``/`` in one included). The
published OpenAPI document is ``docs/backends.openapi.json`` (a test keeps it equal to this
app's; ``python -m order_tracking.http.backend_api`` prints it).
"""

from __future__ import annotations

import socket
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..backends import Backends
from ..backends._http import NOT_FOUND
from ..backends._remote import MAX_SKUS_PER_CALL
from ..backends._types import Order, Payment, Shipment, StockLevel
from .asgi import require_key, run, serve_docs

__all__ = ["create_backends_app", "serve"]

_ID = Path(min_length=1, max_length=64, pattern=r"^[!-~]+$", description="An order id.")


class StockOut(BaseModel):
    items: list[StockLevel]


class NotFound(BaseModel):
    detail: str
    code: str = NOT_FOUND["code"]


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"detail": f"{what} not found", **NOT_FOUND}, status_code=404)


_404: dict[int | str, dict[str, Any]] = {404: {"model": NotFound, "description": "No record"}}


def create_backends_app(backends: Backends, *, api_keys: tuple[str, ...] = ()) -> FastAPI:
    """The contract over ``backends``; with ``api_keys``, every data route wants one."""
    guarded = [Depends(require_key(api_keys, "BACKEND_API_KEY."))] if api_keys else []
    app = FastAPI(
        title="order_tracking backends",
        description="Order management, carrier, warehouse and payment systems: the REST "
        "contract order_tracking's HTTP backend speaks.",
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
    )
    serve_docs(app, "order_tracking backends API")

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/oms/orders/{order_id:path}",
        response_model=Order,
        responses=_404,
        dependencies=guarded,
        summary="An order, its status and items",
    )
    async def get_order(order_id: Annotated[str, _ID]) -> Any:
        order = await backends.oms.get_order(order_id)
        return _not_found(f"order {order_id}") if order is None else order

    @app.get(
        "/carrier/shipments/{order_id:path}",
        response_model=Shipment,
        responses=_404,
        dependencies=guarded,
        summary="An order's shipment (404 when nothing has shipped)",
    )
    async def get_shipment(order_id: Annotated[str, _ID]) -> Any:
        shipment = await backends.carrier.get_shipment(order_id)
        return _not_found(f"shipment for {order_id}") if shipment is None else shipment

    @app.get(
        "/warehouse/stock",
        response_model=StockOut,
        dependencies=guarded,
        summary="Stock of the SKUs asked for; unknown SKUs are left out",
    )
    async def get_stock(
        sku: Annotated[list[str], Query(min_length=1, max_length=MAX_SKUS_PER_CALL)],
    ) -> Any:
        return {"items": await backends.warehouse.get_stock(sku)}

    @app.get(
        "/payments/{order_id:path}",
        response_model=Payment,
        responses=_404,
        dependencies=guarded,
        summary="An order's payment: status, amount and currency (never card data)",
    )
    async def get_payment(order_id: Annotated[str, _ID]) -> Any:
        payment = await backends.payments.get_payment(order_id)
        return _not_found(f"payment for {order_id}") if payment is None else payment

    return app


def serve(
    sock: socket.socket, backends: Backends, *, api_keys: tuple[str, ...], verbose: bool
) -> int | None:
    """Serve until SIGINT/SIGTERM; returns the signal."""
    try:
        return run(sock, create_backends_app(backends, api_keys=api_keys), verbose=verbose)
    finally:
        import asyncio

        asyncio.run(backends.aclose())


if __name__ == "__main__":  # the published document: python -m order_tracking.http.backend_api
    import json

    from ..backends import mock_backends

    print(json.dumps(create_backends_app(mock_backends()).openapi(), indent=2))
