"""``track-order mcp``: the four order tools served over MCP, to any MCP client.

The tools are the agents' own functions (``tools.build_tools`` over ``ORDER_BACKEND``): the
same names, the same one-line descriptions, input schemas from the same signatures, and the
same checks before any backend is asked (an id that fails ``ORDER_ID_PATTERN`` never reaches
one). A result is structured content; an error result is an MCP tool error with the tool's
own message. Card data never leaves: the payment adapter does not hand it over. Calls in
flight are bounded. Over HTTP (streamable, stateless) the server wants a key beyond loopback,
like every server we ship; a ``GET`` (the stream a stateless server never writes to) is
answered 405 at once instead of hanging.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent

from ..agents.tools import Tool
from ..core.listen import is_loopback, known_key

__all__ = ["MCP_PATH", "build_mcp_server", "http_app"]

MCP_PATH = "/mcp"
_INSTRUCTIONS = (
    "Order tracking: look up an order's status, shipping, stock and payment by order id "
    "(or stock by SKU). Read-only."
)


def _served(tool: Tool, gate: asyncio.Semaphore) -> Tool:
    @functools.wraps(tool)  # name, docstring and signature: the input schema
    async def run(*args: Any, **kwargs: Any) -> Any:
        async with gate:
            result = await tool(*args, **kwargs)
        if isinstance(result, Mapping) and result.get("status") == "error":
            message = str(result.get("error_message") or "The lookup failed.")
            return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
        return result

    return run


_KINDS = {"order_id": "order id", "sku": "SKU"}  # how the tools name their arguments


class _ArgumentCheck:
    """Arguments checked before the SDK's own validation, in the tools' own words: a value
    that is not a string, a missing id or an argument the tool does not take is one line
    (the SDK's pydantic report is several, with a URL), and never reaches a backend."""

    def __init__(self, tools: Mapping[str, Tool]) -> None:
        self.params = {
            name: {
                p.name: p.default is inspect.Parameter.empty
                for p in inspect.signature(tool).parameters.values()
            }
            for name, tool in tools.items()
        }

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            refusal = self.refusal(ctx.params.get("name"), ctx.params.get("arguments"))
            if refusal:
                return CallToolResult(
                    content=[TextContent(type="text", text=refusal)], is_error=True
                )
        return await call_next(ctx)

    def refusal(self, name: Any, arguments: Any) -> str | None:
        params = self.params.get(name) if isinstance(name, str) else None
        if params is None:
            return None  # not ours: the SDK says so
        arguments = {} if arguments is None else arguments
        if not isinstance(arguments, Mapping):
            return "The arguments must be an object."
        for key in arguments:
            if key not in params:
                return f"{name} takes no argument {str(key)[:40]!r}; it takes {', '.join(params)}."
        for key, required in params.items():
            kind = _KINDS.get(key, key)
            value = arguments.get(key)
            if (key in arguments and not isinstance(value, str)) or (required and value is None):
                article = "an" if kind[0] in "aeiou" else "a"
                return f"Give {article} {kind} as a non-empty string."
        return None


def build_mcp_server(tools: Mapping[str, Tool], *, max_in_flight: int = 64) -> MCPServer:
    """An MCP server with ``tools``, at most ``max_in_flight`` calls running at once (the
    rest wait their turn)."""
    server = MCPServer(
        name="order_tracking",
        instructions=_INSTRUCTIONS,
        log_level="WARNING",
        middleware=[_ArgumentCheck(tools)],
    )
    gate = asyncio.Semaphore(max_in_flight)
    for name, tool in tools.items():
        description = (tool.__doc__ or name).strip().splitlines()[0]
        server.add_tool(_served(tool, gate), name=name, description=description)
    return server


def http_app(
    server: MCPServer,
    *,
    host: str,
    api_keys: Sequence[str] = (),
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Any:
    """The streamable-HTTP ASGI app at ``MCP_PATH``: stateless (any worker can answer any
    request), JSON answers. With ``api_keys``, a request without one of them
    (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) is answered 401. ``on_shutdown`` runs
    on the server's loop when it stops (the backends' connections are closed there)."""
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        host=host,
        transport_security=_loopback_only(host),
    )
    keys = [key.encode() for key in api_keys]

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" and on_shutdown is not None:
            inner_send = send

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    await on_shutdown()
                await inner_send(message)

        elif scope["type"] == "http" and keys and not _has_key(scope, keys):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="order_tracking"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _UNAUTHORIZED})
            return
        elif scope["type"] == "http" and scope.get("method") == "GET":
            # A GET opens the server-to-client stream, which a stateless server never writes
            # to: the SDK would hold it open for good. The transport lets a server say 405.
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"POST"), (b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _NO_STREAM})
            return
        await app(scope, receive, send)

    return guarded


def _loopback_only(host: str) -> TransportSecuritySettings | None:
    """On a loopback address, only requests addressed to this machine (a web page cannot
    rebind a name of its own to 127.0.0.1 and read the orders). The SDK does this for three
    spellings of loopback; every one ``listen`` accepts without a key gets it."""
    if not is_loopback(host):
        return None
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    names = dict.fromkeys(["127.0.0.1", "localhost", "[::1]", shown])
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names],
        allowed_origins=[f"http://{name}:*" for name in names],
    )


# A JSON-RPC error, which MCP clients relay as it is (a bare 401 reaches the user as "Server
# returned an error response").
_UNAUTHORIZED = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"missing or invalid API key"}}'
)


_NO_STREAM = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32000,'
    b'"message":"this server is stateless: no stream to GET; POST requests"}}'
)


def _has_key(scope: dict[str, Any], keys: Sequence[bytes]) -> bool:
    headers = dict(scope.get("headers") or ())
    given = headers.get(b"x-api-key", b"")
    bearer = headers.get(b"authorization", b"")
    if bearer[:7].lower() == b"bearer ":
        given = bearer[7:].strip()
    return known_key(given, keys)
