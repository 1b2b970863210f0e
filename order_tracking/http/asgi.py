"""What our HTTP servers share (``track-order serve``, ``track-order backends serve``): API-key
checks, local API docs, and running an app under uvicorn with the limits a public port needs."""

from __future__ import annotations

import asyncio
import importlib.util
import resource
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path as FilePath
from typing import Any

from fastapi import FastAPI, HTTPException, Security
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from ..core.listen import known_key
from ..core.workarounds import bounded_h11_protocol, server_without_signal_handlers
from ..ops import lifecycle
from ..ops.logs import json_active

__all__ = [
    "REQUEST_TIMEOUT_S",
    "max_connections",
    "require_key",
    "run",
    "serve_docs",
    "serve_until",
    "swagger_assets",
]

REQUEST_TIMEOUT_S = 10.0  # a whole request (headers, body) must arrive within this (slowloris)
MAX_CONNECTIONS = 4096
RESERVED_DESCRIPTORS = 64  # kept for the process's own files and provider connections


def require_key(
    keys: Sequence[str], description: str = "One of SERVICE_API_KEYS."
) -> Callable[..., Awaitable[None]]:
    """A dependency that wants ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, one of
    ``keys``, compared in constant time (each key, every time); 401 otherwise."""
    encoded = [key.encode() for key in keys]
    bearer = HTTPBearer(auto_error=False, description=description)
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key.")

    async def require_key(
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        api_key: str | None = Security(header),
    ) -> None:
        given = (credentials.credentials if credentials else api_key or "").encode()
        if not known_key(given, encoded):
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


def run(
    sock: socket.socket,
    app: Any,
    *,
    verbose: bool,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
) -> int | None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM, a graceful stop (uvicorn finishes the
    requests in flight); see :func:`serve_until`. Returns the signal."""

    async def run(stop: asyncio.Event) -> None:
        await serve_until(
            sock,
            app,
            stop,
            verbose=verbose,
            request_timeout_s=request_timeout_s,
        )

    _, signum = asyncio.run(lifecycle.until_signalled(run))
    return signum


async def serve_until(
    sock: socket.socket,
    app: Any,
    stop: asyncio.Event,
    *,
    verbose: bool,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
) -> None:
    """Serve ``app`` on ``sock`` in the running loop until ``stop`` is set. A whole request
    must arrive within ``request_timeout_s``; connections beyond :func:`max_connections` are
    closed at once. With ``LOG_FORMAT=json`` uvicorn's records go to the root logger (JSON)
    instead of its own handlers."""
    import uvicorn

    limit = max_connections()
    config = uvicorn.Config(
        app,
        http=bounded_h11_protocol(request_timeout_s, limit),
        # Also how many connections asyncio accepts per wake-up, before any is looked at.
        backlog=min(2048, limit),
        log_level="info" if verbose else "warning",
        **({"log_config": None} if json_active() else {}),
    )
    server = server_without_signal_handlers(config)

    async def stop_serving() -> None:
        await stop.wait()
        server.should_exit = True  # uvicorn's graceful shutdown: in-flight requests finish

    watcher = asyncio.create_task(stop_serving())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()


def swagger_assets() -> FilePath | None:
    """Swagger UI's files as LiteLLM (a dependency) ships them for its own proxy, if present."""
    spec = importlib.util.find_spec("litellm")
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = FilePath(root) / "proxy" / "swagger"
        if (folder / "swagger-ui-bundle.js").is_file() and (folder / "swagger-ui.css").is_file():
            return folder
    return None


def serve_docs(app: FastAPI, title: str = "order_tracking API") -> None:
    assets = swagger_assets()
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
        return get_swagger_ui_html(openapi_url="/openapi.json", title=title, **urls)
