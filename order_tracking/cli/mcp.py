"""``track-order mcp``: the four order tools to any MCP client, over stdio (a desktop client
starts it) or streamable HTTP (loopback unless there are keys)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import click

from ..core.settings import ConfigError
from ..ops.logs import say
from .common import (
    BadInput,
    count,
    host_option,
    insecure_option,
    port_option,
    settings,
    verbose_option,
)

__all__ = ["mcp_command"]

DEFAULT_TOOL_CALLS = 64


@click.command("mcp")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio: for a client that starts this command; http: streamable HTTP at /mcp.",
)
@host_option
@port_option(8090)
@click.option(
    "--concurrency",
    type=int,
    default=DEFAULT_TOOL_CALLS,
    show_default=True,
    callback=count(10_000),
    help="Tool calls running at once; the others wait their turn.",
)
@insecure_option
@verbose_option
def mcp_command(
    transport: str, host: str, port: int, concurrency: int, insecure: bool, verbose: bool
) -> None:
    """Serve the order tools (get_order_status, get_shipping_details, check_inventory,
    get_payment_status) over MCP, from ORDER_BACKEND."""
    from .. import composition

    config = settings(verbose)
    sock = None
    if transport == "http":
        from ..core.listen import ListenError, bind, exposure_warning

        try:
            warning = exposure_warning(host, port, config.service_api_keys, insecure)
            sock = bind(host, port)  # before anything else: a busy port is one line, exit 2
        except ListenError as exc:
            raise BadInput(str(exc)) from None
        if warning:
            say(warning, logging.WARNING)
    try:
        server, backends = composition.mcp_server(config, max_in_flight=concurrency)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    if sock is None:
        asyncio.run(_stdio(server, backends))
        return
    from ..core.listen import url
    from ..http import asgi
    from ..mcp.server import MCP_PATH, http_app

    app = http_app(server, host=host, api_keys=config.service_api_keys, on_shutdown=backends.aclose)
    say(f"Serving MCP on {url(sock)}{MCP_PATH}")
    signum = asgi.run(sock, app, verbose=verbose)
    if signum is not None:
        say(f"Stopped by {signal.Signals(signum).name}.")


async def _stdio(server: Any, backends: Any) -> None:
    """Until the client closes stdin (stdout is the protocol: nothing else is written there)."""
    try:
        await server.run_stdio_async()
    finally:
        await backends.aclose()
