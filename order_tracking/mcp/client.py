"""The agents' tools taken from an MCP server (``TOOLS_MCP_URL``) through ADK's ``McpToolset``.

One toolset per process, shared by every agent, with its tool list cached. Each agent still
gets only its own tools, declared from the in-process functions (what the model reads is the
same either way, and nothing has to be listed before the first model call); a call goes to
the server through the toolset's tool of that name, within ``TOOLS_MCP_TIMEOUT_S``.

The server is a peer: its result enters through the way in (``agents/tool_results.py`` on
``core/inbound.py``), bounded like an HTTP backend's answer (``inbound.MAX_BYTES``, nested at
most ``inbound.MAX_DEPTH`` deep), every field checked, the id re-checked against this
process's ``ORDER_ID_PATTERN``, and rebuilt in the tools' own shape by the tools' own code:
card data or any other field a tool does not return never passes. An MCP tool error becomes
``{"status": "error", "error_message": ...}`` with the server's message (checked as text). A
server that is down, slow, fails a call or answers what does not fit becomes that tool's
error result and the run's ``unavailable`` system ("order tools"): the agent says so and the
others answer. The toolset is closed with the app (``Backends`` closers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from google.adk.tools.base_tool import BaseTool
from google.adk.tools.mcp_tool.mcp_session_manager import (
    StdioConnectionParams,
    StreamableHTTPConnectionParams,
)
from google.adk.tools.mcp_tool.mcp_toolset import McpToolset
from mcp import StdioServerParameters

from ..agents.tool_results import FAILED, Refused, checked_result
from ..agents.tools import Tool, build_tools
from ..backends import Backends, mock_backends
from ..core import inbound
from ..core.order_ids import DEFAULT, OrderIdPattern
from ..core.workarounds import DeclaredOnceTool
from ..models.resilience import current_usage, describe_error

if TYPE_CHECKING:
    from ..core.settings import Settings

__all__ = ["SYSTEM", "McpTools", "connection_params", "is_url", "remote_tools"]

SYSTEM = "order tools"  # what an unavailable server is called in a result's status
_LIST_CACHE_S = 60.0


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def connection_params(
    target: str,
    *,
    api_key: str | None,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> Any:
    """``TOOLS_MCP_URL``: an ``http(s)://`` URL (streamable HTTP, the key sent as a bearer
    token), else a command line that starts a server on stdio (``track-order mcp``), which
    gets ``env`` (this process's settings: ``ORDER_BACKEND`` and the rest) and its folder."""
    if is_url(target):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        return StreamableHTTPConnectionParams(
            url=target, headers=headers, timeout=timeout_s, sse_read_timeout=timeout_s
        )
    command, *args = shlex.split(target)
    server = StdioServerParameters(command=command, args=args, env=dict(env or {}), cwd=os.getcwd())
    return StdioConnectionParams(server_params=server, timeout=timeout_s)


def remote_tools(
    settings: Settings, env: Mapping[str, str]
) -> tuple[Backends, dict[str, BaseTool]]:
    """``TOOLS_MCP_URL``'s tools, and what closes their toolset (as the app's backends: no
    system is opened here, the in-memory ones only stand in). ``env``: for a stdio server."""
    target = settings.tools_mcp or ""
    params = connection_params(
        target,
        api_key=settings.tools_mcp_api_key,
        timeout_s=settings.tools_mcp_timeout_s,
        env=env,
    )
    stand_in = mock_backends()
    local = build_tools(stand_in, settings.order_ids)  # declarations only: never called
    remote = McpTools(
        params, timeout_s=settings.tools_mcp_timeout_s, local=local, order_ids=settings.order_ids
    )
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

    def __init__(
        self,
        connection: Any,
        *,
        timeout_s: float,
        local: Mapping[str, Tool],
        order_ids: OrderIdPattern = DEFAULT,
    ) -> None:
        # A stdio server's stderr (its start-up lines, its own errors) is not ours to print.
        self._errlog = open(os.devnull, "w")  # noqa: SIM115 - closed in aclose
        self.toolset = McpToolset(
            connection_params=connection,
            tool_list_cache_ttl_seconds=_LIST_CACHE_S,
            errlog=self._errlog,
        )
        self.timeout_s, self.order_ids = timeout_s, order_ids
        server = getattr(connection, "server_params", None)
        self._argv = [server.command, *server.args] if server is not None else []
        self._calls: set[asyncio.Task[Any]] = set()
        self.tools: dict[str, BaseTool] = {
            name: _RemoteTool(self, name, function) for name, function in local.items()
        }

    async def call(self, name: str, args: dict[str, Any], tool_context: Any) -> dict[str, Any]:
        """One call, given up after ``timeout_s``. The call itself is never cancelled from
        here (cancelling ADK's session set-up half-way leaves its tasks waiting on the server
        for good): it runs on, bounded by the toolset's own timeouts, and ``aclose`` waits
        for it."""
        task = asyncio.ensure_future(self._call(name, args, tool_context))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        try:
            result = await asyncio.wait_for(asyncio.shield(task), self.timeout_s)
        except TimeoutError:
            return _unavailable(f"no answer within {self.timeout_s:g}s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a server's failure is this tool's error result
            return _unavailable(_reason(exc))
        return _from_mcp(result, name, args, self.order_ids)

    async def _call(self, name: str, args: dict[str, Any], tool_context: Any) -> Any:
        for tool in await self.toolset.get_tools():
            if tool.name == name:
                return await tool.run_async(args=args, tool_context=tool_context)
        raise LookupError(f"the server has no tool {name}")

    async def aclose(self) -> None:
        try:
            if self._calls:  # calls given up on: they end on the toolset's own timeouts
                await asyncio.wait(set(self._calls), timeout=2 * self.timeout_s)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.timeout_s):
                    await self.toolset.close()
            # A stdio server that never answered is still waited on by the toolset's tasks,
            # which nothing else ends: ours to stop, or the process could not exit.
            if self._argv:
                _stop_children(self._argv)
            for task in self._calls:
                task.cancel()
            await asyncio.gather(*self._calls, return_exceptions=True)
        finally:
            self._errlog.close()


def _stop_children(argv: list[str]) -> None:
    """SIGKILL this process's children running exactly ``argv`` (Linux's /proc; elsewhere
    nothing is done)."""
    me = str(os.getpid())
    wanted = "\0".join(argv).encode()
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                parent = stat.read().rsplit(b")", 1)[1].split()[1].decode()
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                command = cmdline.read().rstrip(b"\0")
            if parent == me and command == wanted:
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue


# The tool context of the call in progress, for the server call below ADK's own checks.
_CONTEXT: ContextVar[Any] = ContextVar("mcp_tool_context", default=None)


class _RemoteTool(DeclaredOnceTool):
    """Declared like the in-process function ``function``, its arguments checked by ADK as
    in process (and traced as a tool, by the same instrumentation); run on the server."""

    def __init__(self, source: McpTools, name: str, function: Tool) -> None:
        super().__init__(function)
        self.source = source

    async def run_async(self, *, args: dict[str, Any], tool_context: Any) -> Any:
        token = _CONTEXT.set(tool_context)
        try:
            return await super().run_async(args=args, tool_context=tool_context)
        finally:
            _CONTEXT.reset(token)

    async def _invoke_callable(self, target: Any, args_to_call: dict[str, Any]) -> Any:
        return await self.source.call(self.name, args_to_call, _CONTEXT.get())


def _reason(exc: BaseException) -> str:
    """Why a call failed, in a line, with what to check when the server refused us."""
    said = re.sub(
        r"(Failed to create MCP session: )+", "Failed to create MCP session: ", describe_error(exc)
    )
    if "API key" in said:
        return "the server refused our key: check TOOLS_MCP_API_KEY"
    if "Not Found" in said:
        return "no MCP server at that address (track-order mcp serves /mcp): check TOOLS_MCP_URL"
    if "Server returned an error response" in said:
        return f"{said}; check TOOLS_MCP_URL and TOOLS_MCP_API_KEY"
    return said


def _unavailable(why: str) -> dict[str, Any]:
    usage = current_usage()
    if usage is not None:
        usage.unavailable.add(SYSTEM)
    return {
        "status": "error",
        "error_message": f"The order tools server is unavailable ({why}); try again later.",
    }


def _from_mcp(
    result: Any, name: str, args: Mapping[str, Any], order_ids: OrderIdPattern = DEFAULT
) -> dict[str, Any]:
    """An MCP tool result (as ADK hands it over) for the tool ``name`` called with ``args``,
    through the way in: in the tools' own shape, or the tool's ``unavailable`` error."""
    try:
        inbound.bounded(result, "the answer")
    except Refused as exc:
        return _unavailable(f"{exc}")
    if not isinstance(result, Mapping):
        return _unavailable("an answer that is not a tool result")
    if "error" in result and "content" not in result:  # ADK's own account of a failed call
        return _unavailable(inbound.message(str(result["error"])[:300], "the call failed"))
    content = result.get("content")
    parts = content if isinstance(content, list) else []
    text = "".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping))
    if result.get("isError"):
        return {"status": "error", "error_message": inbound.message(text, FAILED)}
    structured = result.get("structuredContent")
    if not isinstance(structured, Mapping):
        try:
            structured = inbound.loads(text)
        except Refused:
            structured = None
    if not isinstance(structured, Mapping):
        return _unavailable("an answer without data")
    try:
        return checked_result(name, structured, order_ids, args)
    except Refused as exc:
        return _unavailable(f"an answer that does not fit: {exc}")
