"""Every place we reach into a library's internals, in one file. Each names the version it was
checked against (``CHECKED_AGAINST``); ``tests/core/test_workarounds.py`` fails when a version
moves or the behaviour relied on is gone. On an upgrade, re-check each, then update it."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from google.adk.tools import FunctionTool

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "CHECKED_AGAINST",
    "bounded_h11_protocol",
    "LITELLM_NO_MCP_GATEWAY",
    "DeclaredOnceTool",
    "mark_a2a_missing",
    "marking_cancelled_calls",
    "preload_litellm_cache_hit",
    "quiet_foreign_context_detach",
    "without_redirects",
    "server_without_signal_handlers",
    "with_caller_source_path",
]

CHECKED_AGAINST = {
    "google-adk": "2.13.0",
    "h11": "0.16.0",
    "litellm": "1.106.2",
    "monocle_apptrace": "0.8.15",
    "opentelemetry-api": "1.44.0",
    "opentelemetry-exporter-otlp-proto-http": "1.44.0",
    "uvicorn": "0.54.0",
}


# --- ADK (google-adk 2.13.0) ------------------------------------------------------------------


class DeclaredOnceTool(FunctionTool):
    """A plain-function tool whose declaration (what the model reads) is built once.

    ADK rebuilds a tool's declaration on every model call (``LlmRequest.append_tools`` calls
    the private ``_get_declaration``) and returns a deep copy each time (about 1 ms of CPU per
    tool per call here), so that toolsets can rename tools without touching the original. Our
    tools are never renamed, and LiteLLM's adapter copies the schema it sends, so one shared
    declaration is enough.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        super().__init__(func)
        self._declaration = super()._get_declaration()

    def _get_declaration(self) -> Any:
        return self._declaration


_A2A_MODULE = "google.adk.agents.remote_a2a_agent"


def mark_a2a_missing() -> None:
    """Mark ADK's optional A2A module missing, once, when its ``a2a`` package is absent.

    ADK imports ``google.adk.agents.remote_a2a_agent`` on every agent run (in
    ``workflow/utils/_workflow_graph_utils.py``) to check for remote agents; without ``a2a``
    the import fails, nothing caches the failure, and the module is loaded and executed again
    each time: about 3 ms of CPU per agent run. A ``None`` in ``sys.modules`` is Python's own
    way to say "not importable".
    """
    if _A2A_MODULE not in sys.modules and importlib.util.find_spec("a2a") is None:
        sys.modules[_A2A_MODULE] = None  # type: ignore[assignment]


# --- LiteLLM (1.106.2) ------------------------------------------------------------------------

# On every call that carries tools, LiteLLM looks for tools of its MCP gateway, importing its
# MCP machinery to do so (about 18 MiB and 1.8 billion instructions at start-up). Our tools are
# plain functions, never gateway tools. The switch is LiteLLM's own (its gateway sets it on its
# inner calls); ``litellm.acompletion`` pops it, so it never reaches a provider.
LITELLM_NO_MCP_GATEWAY: dict[str, Any] = {"_skip_mcp_handler": True}


# On every answer its response cache gives (``caching_handler.
# _should_defer_streaming_cache_hit_callbacks``), LiteLLM imports its proxy's Anthropic
# pass-through module, which imports the proxy's logging handlers: FastAPI, orjson and
# soundfile (numpy), its ``proxy`` extra. Both missing ones are our dependencies for that alone
# (without them every cache hit is a ModuleNotFoundError), and the import (~2 s of CPU, ~23 MiB
# here) happens at start-up, when the cache is on, instead of inside the first cached call.
LITELLM_CACHE_HIT_IMPORTS = "litellm.llms.anthropic.pass_through.messages.response_cache"


def preload_litellm_cache_hit() -> None:
    importlib.import_module(LITELLM_CACHE_HIT_IMPORTS)


# --- Monocle (monocle_apptrace 0.8.15) --------------------------------------------------------


def with_caller_source_path(entry: dict[str, Any]) -> dict[str, Any]:
    """The same Monocle wrapper entry, its wrapper told its caller's file and line (the span's
    ``span_source``) through the ``source_path`` keyword of ``with_tracer_wrapper``.

    Left to itself, Monocle's wrapper finds them with two ``traceback.extract_stack()`` calls
    on every wrapped call: the whole stack, source lines read from disk, about 0.8 ms each
    time. The caller's frame gives the same answer for nothing.
    """
    make_wrapper = entry["wrapper_method"]

    def wrapper_method(tracer: Any, handler: Any, to_wrap: Any) -> Callable[..., Any]:
        wrapper = make_wrapper(tracer, handler, to_wrap)

        def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            caller = sys._getframe(1)  # the code that called the instrumented method
            source = f"{caller.f_code.co_filename}:{caller.f_lineno}"
            return wrapper(wrapped, instance, args, kwargs, source_path=source)

        return call

    return {**entry, "wrapper_method": wrapper_method}


class _ForeignContextDetach(logging.Filter):
    """Drops OpenTelemetry's "Failed to detach context" record when it is Monocle closing a
    generator's span from a copy of the context it was opened in (see below); every other
    record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.msg != "Failed to detach context" or not isinstance(error, ValueError):
            return True
        if "was created in a different Context" not in str(error):
            return True
        cause, frames = error.__context__, []
        tb = cause.__traceback__ if isinstance(cause, GeneratorExit) else None
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        return "start_as_monocle_span" not in frames


def quiet_foreign_context_detach() -> None:
    """Keep a chat turn's log clean in ``adk web``: four ``ERROR … Failed to detach context``
    tracebacks per turn, from Monocle's wrapper around ADK's async generators.

    ADK leaves some of its agents' async generators unfinished (a transfer returns from inside
    ``async for``); Python closes them later from the event loop's finaliser, in a task whose
    context is a *copy* of the one the span was opened in. Monocle's ``start_as_monocle_span``
    guards its ``detach`` calls with a marker in a context variable, which a copy still holds,
    so it detaches tokens of the original context; OpenTelemetry logs the ``ValueError`` at
    ERROR. Nothing is left attached (the original context has ended with its task), so only
    that record is dropped, recognised by its message, its error and Monocle's frame.
    Idempotent."""
    logger = logging.getLogger("opentelemetry.context")
    if not any(isinstance(f, _ForeignContextDetach) for f in logger.filters):
        logger.addFilter(_ForeignContextDetach())


# --- OpenTelemetry's OTLP/HTTP exporter (opentelemetry-exporter-otlp-proto-http 1.44.0) ------


def without_redirects(exporter: Any) -> None:
    """Make the OTLP exporter follow no redirect: a redirect is a failed export, logged by the
    exporter, and the spans stay in the local files.

    The exporter sends ``OTEL_EXPORTER_OTLP_HEADERS`` (a vendor's key) with every request from
    its ``requests`` session (the private ``_session``: its own, or one from an
    ``OTEL_PYTHON_EXPORTER_OTLP_HTTP_*CREDENTIAL_PROVIDER``), and ``requests`` would send them
    on to wherever a collector redirects: it drops only ``Authorization``, and only for another
    host. With ``max_redirects = 0`` the first redirect raises ``TooManyRedirects`` before it
    is followed. The constructor's ``session`` argument would do it publicly, but would also
    replace a credential provider's session."""
    exporter._session.max_redirects = 0


CANCELLED_CALL = "cancelled before it returned (the call's timeout or the agent's deadline)"


def marking_cancelled_calls(entry: dict[str, Any]) -> dict[str, Any]:
    """The same Monocle wrapper entry (of a coroutine method: ``atask_wrapper``), a call
    cancelled before it returned recorded as an error span: a model call given up at its
    timeout is not a successful inference.

    Monocle's wrappers catch ``Exception`` only: a ``CancelledError`` (how a timeout stops a
    call) passes them unseen, and the span ends with status OK and no output. The method
    itself is wrapped innermost, where the current Monocle span is the call's own: the error
    status set there stands, since Monocle sets OK only on a span whose status is unset.
    """
    import functools

    from monocle_apptrace.instrumentation.common.utils import get_current_monocle_span
    from opentelemetry.trace import StatusCode

    make_wrapper = entry["wrapper_method"]

    def wrapper_method(tracer: Any, handler: Any, to_wrap: Any) -> Callable[..., Any]:
        wrapper = make_wrapper(tracer, handler, to_wrap)

        def call(wrapped: Any, instance: Any, args: Any, kwargs: Any, **extra: Any) -> Any:
            @functools.wraps(wrapped)
            async def marked(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await wrapped(*args, **kwargs)
                except asyncio.CancelledError:
                    span = get_current_monocle_span()
                    if span is not None and span.is_recording():
                        span.set_status(StatusCode.ERROR, CANCELLED_CALL)
                    raise

            return wrapper(marked, instance, args, kwargs, **extra)

        return call

    return {**entry, "wrapper_method": wrapper_method}


# --- uvicorn (0.54.0) -------------------------------------------------------------------------


def server_without_signal_handlers(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that leaves SIGINT/SIGTERM to us.

    ``uvicorn.Server.serve`` installs its own handlers in ``capture_signals()`` and, after its
    shutdown, re-raises the signal it caught (so the process dies of it). Our lifecycle turns a
    signal into a graceful stop with exit code 0 instead, so the hook does nothing here.
    """
    import contextlib
    from collections.abc import Iterator

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server(config)


def bounded_h11_protocol(request_timeout_s: float, max_connections: int) -> type:
    """uvicorn's HTTP/1.1 protocol (``H11Protocol``, uvicorn's own module) with two bounds
    uvicorn lacks: a request, headers and body, must have arrived whole within
    ``request_timeout_s`` of the connection (or of the previous response, on a kept-alive
    one), and a connection beyond ``max_connections`` is closed at once. Without them, a few
    hundred connections that trickle their headers or a body (slowloris) hold every file
    descriptor and the service stops answering, ``/health`` included: uvicorn's only timer is
    for idle keep-alive, and any byte disarms it.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class BoundedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.abort()  # the descriptor is free again at once
                return
            self._expect_headers()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.DONE:  # a whole request has arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._expect_headers()  # the next request on this kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _expect_headers(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(request_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            # Not a whole request yet (headers or a promised body still missing): cut off.
            if self.conn.their_state is not h11.DONE and not self.transport.is_closing():
                self.transport.close()

    return BoundedH11Protocol
