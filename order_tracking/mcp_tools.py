"""The agents' tools taken from an MCP server (``TOOLS_MCP_URL``) through ADK's ``McpToolset``.

One toolset per process, shared by every agent, with its tool list cached. Each agent still
gets only its own tools, declared from the in-process functions (what the model reads is the
same either way, and nothing has to be listed before the first model call); a call goes to
the server through the toolset's tool of that name, within ``TOOLS_MCP_TIMEOUT_S``. Its
result is turned back into the tools' own shape (the structured content; an MCP tool error
becomes ``{"status": "error", "error_message": ...}`` with the server's message). A server
that is down, slow or fails a call becomes that tool's error result and the run's
``unavailable`` system ("order tools"): the agent says so and the others answer. The toolset
is closed with the app (``Backends`` closers).
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.adk.tools.base_tool import BaseTool
from google.adk.tools.mcp_tool.mcp_session_manager import (
    StdioConnectionParams,
    StreamableHTTPConnectionParams,
)
from google.adk.tools.mcp_tool.mcp_toolset import McpToolset
from mcp import StdioServerParameters

from .backends import Backends, mock_backends
from .resilience import current_usage, describe_error
from .tools import Tool, build_tools
from .workarounds import DeclaredOnceTool

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["SYSTEM", "McpTools", "connection_params", "remote_tools"]

SYSTEM = "order tools"  # what an unavailable server is called in a result's status
_LIST_CACHE_S = 60.0


def connection_params(target: str, *, api_key: str | None, timeout_s: float) -> Any:
    """``TOOLS_MCP_URL``: an ``http(s)://`` URL (streamable HTTP, the key sent as a bearer
    token), else a command line that starts a server on stdio (``track-order mcp``)."""
    if target.startswith(("http://", "https://")):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        return StreamableHTTPConnectionParams(url=target, headers=headers, timeout=timeout_s)
    command, *args = shlex.split(target)
    return StdioConnectionParams(
        server_params=StdioServerParameters(command=command, args=args), timeout=timeout_s
    )


def remote_tools(settings: Settings) -> tuple[Backends, dict[str, BaseTool]]:
    """``TOOLS_MCP_URL``'s tools, and what closes their toolset (as the app's backends: no
    system is opened here, the in-memory ones only stand in)."""
    target = settings.tools_mcp or ""
    params = connection_params(
        target, api_key=settings.tools_mcp_api_key, timeout_s=settings.tools_mcp_timeout_s
    )
    stand_in = mock_backends()
    local = build_tools(stand_in, settings.order_ids)  # declarations only: never called
    remote = McpTools(params, timeout_s=settings.tools_mcp_timeout_s, local=local)
    backends = Backends(
        stand_in.oms,
        stand_in.carrier,
        stand_in.warehouse,
        stand_in.payments,
        f"mcp {target}",
        (remote.aclose,),
    )
    return backends, remote.tools


class McpTools:
    """The shared toolset, and a tool for each of ``local``'s names that calls it."""

    def __init__(self, connection: Any, *, timeout_s: float, local: Mapping[str, Tool]) -> None:
        self.toolset = McpToolset(
            connection_params=connection, tool_list_cache_ttl_seconds=_LIST_CACHE_S
        )
        self.timeout_s = timeout_s
        self.tools: dict[str, BaseTool] = {
            name: _RemoteTool(self, name, function) for name, function in local.items()
        }

    async def remote(self, name: str) -> BaseTool:
        for tool in await self.toolset.get_tools():
            if tool.name == name:
                return tool
        raise LookupError(f"the server has no tool {name}")

    async def aclose(self) -> None:
        await self.toolset.close()


class _RemoteTool(DeclaredOnceTool):
    """Declared like the in-process function ``function``; run on the server."""

    def __init__(self, source: McpTools, name: str, function: Tool) -> None:
        super().__init__(function)
        self.source = source

    async def run_async(self, *, args: dict[str, Any], tool_context: Any) -> Any:
        try:
            async with asyncio.timeout(self.source.timeout_s):
                remote = await self.source.remote(self.name)
                result = await remote.run_async(args=args, tool_context=tool_context)
        except TimeoutError:
            return _unavailable(f"no answer within {self.source.timeout_s:g}s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a server's failure is this tool's error result
            return _unavailable(describe_error(exc))
        return _from_mcp(result)


def _unavailable(why: str) -> dict[str, Any]:
    usage = current_usage()
    if usage is not None:
        usage.unavailable.add(SYSTEM)
    return {
        "status": "error",
        "error_message": f"The order tools server is unavailable ({why}); try again later.",
    }


def _from_mcp(result: Any) -> dict[str, Any]:
    """An MCP tool result (as ADK hands it over) in the tools' own shape."""
    if not isinstance(result, Mapping):
        return _unavailable("an answer that is not a tool result")
    if "error" in result and "content" not in result:  # ADK's own account of a failed call
        return _unavailable(str(result["error"])[:300])
    content = result.get("content")
    parts = content if isinstance(content, list) else []
    text = "".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping))
    if result.get("isError"):
        return {"status": "error", "error_message": text or "The lookup failed."}
    structured = result.get("structuredContent")
    if isinstance(structured, Mapping):
        return dict(structured)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return dict(parsed) if isinstance(parsed, Mapping) else _unavailable("an answer without data")
