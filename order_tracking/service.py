"""The HTTP service: ``track-order serve``. FastAPI, which ADK already brings.

POST /orders/{order_id}/track          the order's JSON (the same schema as ``--json``)
GET  /orders/{order_id}/track/stream   server-sent events: one ``agent`` event per result as it
                                       completes, then the ``order`` event
GET  /health, /ready                   for orchestrators;  /docs, /openapi.json: the API

Agent failures are data in the JSON, never 500s. Each request is one trace. Agent runs in
flight are bounded across requests, and so are orders in flight (503 beyond that).
:func:`serve` runs it under uvicorn on a socket the CLI has bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import importlib.util
import json
import resource
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Security
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from . import lifecycle
from .order_ids import InvalidOrderId, parse_order_id
from .report import agent_json, order_json
from .results import AgentResult, OrderReport
from .workarounds import bounded_h11_protocol, server_without_signal_handlers

if TYPE_CHECKING:
    from .composition import App

ORDER_ID_DOC = "An order id: ORD- followed by digits, any case (e.g. ORD-1001)."
DEFAULT_MAX_ORDERS = 64
REQUEST_TIMEOUT_S = 10.0  # a whole request (headers, body) must arrive within this (slowloris)
MAX_CONNECTIONS = 4096
RESERVED_DESCRIPTORS = 64  # kept for the process's own files and provider connections


class _Admission:
    """At most ``limit`` orders in flight; one more is refused at once (503), not queued,
    so a client or load balancer can retry elsewhere instead of waiting blind."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_flight = limit, 0

    def enter(self) -> None:
        if self.in_flight >= self.limit:
            raise HTTPException(
                status_code=503,
                detail="too many orders in flight; retry shortly",
                headers={"Retry-After": "1"},
            )
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
    ``api_keys``, every order route wants one of them (401 otherwise); ``/health``,
    ``/ready`` and the API docs stay open (they tell nothing about any order).
    """
    guarded = [Depends(_require_key(api_keys))] if api_keys else []
    gate = asyncio.Semaphore(concurrency)
    admission = _Admission(max_orders)
    streamed: dict[asyncio.Task[OrderReport], asyncio.Event] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # Shutting down: stop the streamed orders still running, so their traces close whole.
        for stop in streamed.values():
            stop.set()
        await asyncio.gather(*streamed, return_exceptions=True)

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
    _serve_docs(app)

    def order_id_or_422(raw: str) -> str:
        try:
            return parse_order_id(raw, strip=False)
        except InvalidOrderId as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @app.get("/health", summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: agents built, tracing installed, capacity left")
    async def ready() -> dict[str, Any]:
        if admission.in_flight >= admission.limit:
            raise HTTPException(status_code=503, detail="at capacity", headers={"Retry-After": "1"})
        return {
            "status": "ready",
            "agents": [a.name for a in tracker.agents],
            "orders_in_flight": admission.in_flight,
        }

    @app.post(
        "/orders/{order_id}/track", summary="Ask every agent about one order", dependencies=guarded
    )
    async def track(order_id: str = Path(description=ORDER_ID_DOC)) -> dict[str, Any]:
        order_id = order_id_or_422(order_id)
        admission.enter()
        try:
            report = await tracker.track_order(order_id, gate=gate)
        finally:
            admission.leave()
        return order_json(report)

    @app.get(
        "/orders/{order_id}/track/stream",
        summary="The same, as server-sent events, each agent's result as it completes",
        dependencies=guarded,
    )
    async def track_stream(order_id: str = Path(description=ORDER_ID_DOC)) -> StreamingResponse:
        order_id = order_id_or_422(order_id)
        admission.enter()  # 503 now, before the stream starts
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


def _require_key(keys: Sequence[str]) -> Callable[..., Awaitable[None]]:
    """A dependency that wants ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, one of
    ``keys``, compared in constant time (each key, every time); 401 otherwise."""
    encoded = [key.encode() for key in keys]
    bearer = HTTPBearer(auto_error=False, description="One of SERVICE_API_KEYS.")
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key.")

    async def require_key(
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        api_key: str | None = Security(header),
    ) -> None:
        given = (credentials.credentials if credentials else api_key or "").encode()
        known = False
        for key in encoded:
            known |= hmac.compare_digest(given, key)
        if not known:
            raise HTTPException(
                status_code=401,
                detail="missing or invalid API key",
                headers={"WWW-Authenticate": 'Bearer realm="order_tracking"'},
            )

    return require_key


def max_connections() -> int:
    """Connections the server keeps open at once: what the process may open, less room for
    its own (provider connections, trace files, imports)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(8, min(MAX_CONNECTIONS, soft - RESERVED_DESCRIPTORS))


def serve(
    sock: socket.socket,
    tracker: App,
    *,
    concurrency: int,
    verbose: bool,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
) -> int | None:
    """Serve on ``sock`` until SIGINT/SIGTERM, a graceful stop: uvicorn finishes the requests
    in flight and the streams still running are stopped with their traces closed. A whole
    request must arrive within ``request_timeout_s``; connections beyond
    :func:`max_connections` are closed at once. Returns the signal that stopped it."""
    import uvicorn

    app = create_app(tracker, concurrency=concurrency, api_keys=tracker.settings.service_api_keys)
    limit = max_connections()
    config = uvicorn.Config(
        app,
        http=bounded_h11_protocol(request_timeout_s, limit),
        # Also how many connections asyncio accepts per wake-up, before any is looked at.
        backlog=min(2048, limit),
        log_level="info" if verbose else "warning",
    )
    server = server_without_signal_handlers(config)

    async def run(stop: asyncio.Event) -> None:
        async def stop_serving() -> None:
            await stop.wait()
            server.should_exit = True  # uvicorn's graceful shutdown: in-flight orders finish

        watcher = asyncio.create_task(stop_serving())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()

    _, signum = asyncio.run(lifecycle.until_signalled(run))
    return signum


def _swagger_assets() -> FilePath | None:
    """Swagger UI's files as LiteLLM (a dependency) ships them for its own proxy, if present."""
    spec = importlib.util.find_spec("litellm")
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = FilePath(root) / "proxy" / "swagger"
        if (folder / "swagger-ui-bundle.js").is_file() and (folder / "swagger-ui.css").is_file():
            return folder
    return None


def _serve_docs(app: FastAPI) -> None:
    assets = _swagger_assets()
    if assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
        urls = {
            "swagger_js_url": "/docs-assets/swagger-ui-bundle.js",
            "swagger_css_url": "/docs-assets/swagger-ui.css",
            "swagger_favicon_url": "/docs-assets/favicon.png",
        }
    else:  # a LiteLLM without them: FastAPI's CDN links, which work when online
        urls = {}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="order_tracking API", **urls)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
