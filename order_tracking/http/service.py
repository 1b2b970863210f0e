"""The HTTP service: ``track-order serve``. FastAPI, which ADK already brings.

POST /orders/{order_id}/track          the order's JSON (the same schema as ``--json``)
GET  /orders/{order_id}/track/stream   server-sent events: one ``agent`` event per result as it
                                       completes, then the ``order`` event
GET  /health, /ready                   for orchestrators;  /docs, /openapi.json: the API
GET  /metrics                          Prometheus metrics (see ``ops/metrics.py``)

Agent failures are data in the JSON, never 500s; every body is written by the way out
(``core/outbound.py``: secrets redacted, terminal controls escaped). Each request is one trace. Agent runs in
flight are bounded across requests, and so are orders in flight (503 beyond that); once the
hourly spend limit is reached, new orders get 503 with ``Retry-After`` until the window frees.
:func:`serve` runs it under uvicorn on a socket the CLI has bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Path
from fastapi.responses import Response, StreamingResponse

from ..core import outbound
from ..core.order_ids import InvalidOrderId
from ..core.report import agent_json, order_json
from ..core.results import AgentResult, OrderReport
from ..ops.metrics import CONTENT_TYPE
from ..ops.watch import Watch
from .asgi import REQUEST_TIMEOUT_S, require_key, run, serve_docs

if TYPE_CHECKING:
    from ..async_runner.app import App

ORDER_ID_DOC = (
    "An order id: by default ORD- followed by digits, any case (e.g. ORD-1001); "
    "ORDER_ID_PATTERN sets another form."
)
DEFAULT_MAX_ORDERS = 64


class _Admission:
    """At most ``limit`` orders in flight; one more is refused at once (503), not queued,
    so a client or load balancer can retry elsewhere instead of waiting blind. So is every
    order while a spend limit is reached (or its shared store cannot be reached), with when
    to come back."""

    def __init__(self, limit: int, watch: Watch) -> None:
        self.limit, self.in_flight, self.watch = limit, 0, watch

    async def enter(self) -> None:
        refusal = await self.watch.refusal()
        if refusal is not None:
            raise _unavailable(refusal.reason, refusal.retry_after_header)
        if self.in_flight >= self.limit:
            self.watch.refused("capacity")
            raise _unavailable("too many orders in flight; retry shortly")
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1


def create_app(
    tracker: App,
    *,
    concurrency: int = 10,
    max_orders: int = DEFAULT_MAX_ORDERS,
    api_keys: Sequence[str] = (),
) -> FastAPI:
    """The service around a built ``App`` (agents, tracing, limits).

    ``concurrency`` bounds agent runs in flight across all requests; ``max_orders`` bounds
    the orders in flight (requests beyond it get 503 with ``Retry-After``). With
    ``api_keys``, every order route and ``/metrics`` want one of them (401 otherwise);
    ``/health``, ``/ready`` and the API docs stay open (they tell nothing about any order).
    """
    guarded = [Depends(require_key(api_keys))] if api_keys else []
    gate = asyncio.Semaphore(concurrency)
    watch = tracker.watch or Watch()
    admission = _Admission(max_orders, watch)
    streamed: dict[asyncio.Task[OrderReport], asyncio.Event] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # Shutting down: stop the streamed orders still running, so their traces close whole.
        for stop in streamed.values():
            stop.set()
        await asyncio.gather(*streamed, return_exceptions=True)
        await tracker.aclose()

    app = FastAPI(
        title="order_tracking",
        description="Five concurrent ADK agents answer one order question.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own request spans would go to Monocle's (global) tracer provider and
        # make every order's workflow span their child: a trace file per HTTP request that
        # only closes after the response. One order, one trace, as on the command line.
        telemetry={"tracing": False},
        # /docs is served from local assets (below): FastAPI's default loads them from a CDN,
        # which leaves a blank page on an offline machine. ReDoc has no local copy.
        docs_url=None,
        redoc_url=None,
    )
    serve_docs(app)

    def order_id_or_422(raw: str) -> str:
        try:
            return tracker.settings.order_ids.parse(raw, strip=False)
        except InvalidOrderId as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @app.get("/health", summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: agents built, capacity and hourly budget left")
    async def ready() -> dict[str, Any]:
        refusal = await watch.limit_reached()
        if refusal is not None:
            raise _unavailable(refusal.reason, refusal.retry_after_header)
        if admission.in_flight >= admission.limit:
            raise _unavailable("at capacity")
        body: dict[str, Any] = {
            "status": "ready",
            "agents": [a.name for a in tracker.agents],
            "orders_in_flight": admission.in_flight,
        }
        if watch.spend is not None and not api_keys:  # with keys, spend is behind /metrics
            spent, limits = await watch.spend.spent(), watch.spend.limits
            body["last_hour"] = {
                "cost_usd": round(spent.hour_usd, 6),
                "tokens": spent.hour_tokens,
                "max_cost_usd": limits.hour_usd or None,
                "max_tokens": limits.hour_tokens or None,
            }
            body["last_day"] = {
                "cost_usd": round(spent.day_usd, 6),
                "tokens": spent.day_tokens,
                "max_cost_usd": limits.day_usd or None,
                "max_tokens": limits.day_tokens or None,
            }
        return body

    add_metrics_route(app, watch, guarded)

    @app.post(
        "/orders/{order_id}/track", summary="Ask every agent about one order", dependencies=guarded
    )
    async def track(order_id: str = Path(description=ORDER_ID_DOC)) -> Response:
        order_id = order_id_or_422(order_id)
        await admission.enter()
        try:
            report = await tracker.track_order(order_id, gate=gate)
        finally:
            admission.leave()
        return Response(outbound.json_text(order_json(report)), media_type="application/json")

    @app.get(
        "/orders/{order_id}/track/stream",
        summary="The same, as server-sent events, each agent's result as it completes",
        dependencies=guarded,
    )
    async def track_stream(order_id: str = Path(description=ORDER_ID_DOC)) -> StreamingResponse:
        order_id = order_id_or_422(order_id)
        await admission.enter()  # 503 now, before the stream starts
        results: asyncio.Queue[AgentResult | None] = asyncio.Queue()
        stop = asyncio.Event()

        async def run() -> OrderReport:
            try:
                return await tracker.track_order(
                    order_id,
                    gate=gate,
                    stop=stop,
                    on_result=lambda _order, result: results.put_nowait(result),
                )
            finally:
                results.put_nowait(None)
                admission.leave()

        # The order is the app's task, not the response's: a client that leaves early (or
        # never reads) stops its agents through `stop`, and the trace still closes whole.
        task = asyncio.create_task(run())
        streamed[task] = stop
        task.add_done_callback(lambda done: streamed.pop(done, None))

        async def events() -> AsyncIterator[str]:
            try:
                while (result := await results.get()) is not None:
                    yield _sse("agent", agent_json(result))
                yield _sse("order", order_json(await task))
            finally:
                stop.set()  # a no-op once the order is done; otherwise the client went away

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def add_metrics_route(app: FastAPI, watch: Watch, guarded: list[Any]) -> None:
    """``GET /metrics``: the process's metrics in Prometheus's text format."""

    @app.get(
        "/metrics",
        summary="Prometheus metrics: orders, agent runs, models, circuits, spend",
        dependencies=guarded,
        response_class=Response,
    )
    async def metrics() -> Response:
        if watch.metrics is None:
            raise HTTPException(status_code=404, detail="no metrics in this process")
        return Response(watch.metrics.exposition(), media_type=CONTENT_TYPE)


def metrics_app(watch: Watch, api_keys: Sequence[str] = ()) -> FastAPI:
    """A worker's ``--metrics-port``: ``/metrics`` (wanting one of ``api_keys``, if any)
    and ``/health``, nothing else."""
    app = FastAPI(title="order_tracking worker", docs_url=None, redoc_url=None, openapi_url=None)
    add_metrics_route(app, watch, [Depends(require_key(api_keys))] if api_keys else [])

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(
    sock: socket.socket,
    tracker: App,
    *,
    concurrency: int,
    verbose: bool,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
) -> int | None:
    """Serve on ``sock`` until SIGINT/SIGTERM, a graceful stop: uvicorn finishes the requests
    in flight and the streams still running are stopped with their traces closed (see
    ``asgi.run``). Returns the signal that stopped it."""
    app = create_app(tracker, concurrency=concurrency, api_keys=tracker.settings.service_api_keys)
    return run(sock, app, verbose=verbose, request_timeout_s=request_timeout_s)


def _unavailable(detail: str, retry_after: str = "1") -> HTTPException:
    """503 with ``Retry-After`` (seconds): come back later, or try another replica."""
    return HTTPException(status_code=503, detail=detail, headers={"Retry-After": retry_after})


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {outbound.json_text(data)}\n\n"
