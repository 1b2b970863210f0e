"""Each workaround in ``order_tracking/core/workarounds.py`` against the library it reaches into:
these fail when a library changes under us (a new version, or the behaviour a workaround
relies on or works around is gone), so the workaround is re-checked rather than silently
wrong or useless."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import signal
import socket
import sys
from importlib.metadata import version

import litellm
import pytest
import uvicorn
from google.adk.models.llm_request import LlmRequest
from google.adk.tools import FunctionTool
from helpers import load_trace
from monocle_apptrace.instrumentation.common.wrapper import atask_wrapper

from order_tracking.agents.tools import build_tools
from order_tracking.backends import mock_backends
from order_tracking.core import workarounds
from order_tracking.core.settings import OFFLINE_MODEL

get_order_status = build_tools(mock_backends())["get_order_status"]


@pytest.mark.parametrize("package", sorted(workarounds.CHECKED_AGAINST))
def test_the_installed_libraries_are_the_versions_the_workarounds_were_checked_against(package):
    assert version(package) == workarounds.CHECKED_AGAINST[package], (
        f"{package} changed: re-check its entries in order_tracking/core/workarounds.py, "
        "then update CHECKED_AGAINST"
    )


def test_adk_still_rebuilds_declarations_and_our_tool_builds_one():
    # What we work around: a fresh (deep-copied) declaration on every call.
    plain = FunctionTool(get_order_status)
    assert plain._get_declaration() is not plain._get_declaration()
    # ADK still asks the tool for it through the private hook we override.
    ours = workarounds.DeclaredOnceTool(get_order_status)
    first, second = LlmRequest(), LlmRequest()
    first.append_tools([ours])
    second.append_tools([ours])
    (declared,) = first.config.tools[0].function_declarations
    assert declared is second.config.tools[0].function_declarations[0]
    assert declared == plain._get_declaration()  # the same declaration, built once


def test_adk_still_imports_its_a2a_module_per_run_and_the_marker_stops_it():
    module = "google.adk.agents.remote_a2a_agent"
    assert importlib.util.find_spec("a2a") is None  # the case the marker is for
    # ADK imports it inside the function that runs for every agent run.
    from google.adk.workflow.utils import _workflow_graph_utils

    assert "from ...agents.remote_a2a_agent import" in inspect.getsource(_workflow_graph_utils)
    saved = sys.modules.pop(module, None)
    try:
        with pytest.raises(ImportError):  # without the marker: a fresh failing import each time
            importlib.import_module(module)
        assert module not in sys.modules  # nothing caches the failure
        workarounds.mark_a2a_missing()
        assert sys.modules[module] is None
        with pytest.raises(ImportError):  # with it: refused at once, from sys.modules
            importlib.import_module(module)
    finally:
        sys.modules[module] = saved  # type: ignore[assignment]


async def test_litellm_consumes_its_mcp_gateway_switch(monkeypatch):
    tool = {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
    messages = [{"role": "user", "content": "ORD-1001?"}]
    # LiteLLM's MCP machinery made unimportable: a call that reaches it fails.
    monkeypatch.setitem(sys.modules, "litellm.responses.mcp.chat_completions_handler", None)
    with pytest.raises(Exception, match="chat_completions_handler"):
        await litellm.acompletion(model=OFFLINE_MODEL, messages=messages, tools=[tool])
    response = await litellm.acompletion(
        model=OFFLINE_MODEL, messages=messages, tools=[tool], **workarounds.LITELLM_NO_MCP_GATEWAY
    )
    assert response.choices[0].message.tool_calls  # answered without it


async def test_litellm_never_forwards_the_switch_to_a_provider(stub):
    from order_tracking.core.settings import Settings
    from order_tracking.models.gateway import litellm_model

    model = litellm_model("openai/switch-check", Settings(default_model="openai/switch-check"))
    assert model._additional_args["_skip_mcp_handler"] is True
    response = await litellm.acompletion(
        model="openai/switch-check",
        messages=[{"role": "user", "content": "hi"}],
        **model._additional_args,
    )
    assert response.choices
    (sent,) = stub.requests
    assert not any("mcp" in key for key in sent["body"]) and "extra_body" not in sent["body"]


def test_monocles_wrapper_takes_the_callers_source_path(tracing):
    # The keyword our wrapper passes instead of letting Monocle extract the stack twice.
    wrapper = atask_wrapper(None, None, {})
    assert "source_path" in inspect.signature(wrapper).parameters


def test_monocle_still_ends_a_cancelled_calls_span_unmarked():
    # What marking_cancelled_calls works around: only Exception is caught, so a cancelled
    # call's span ends as if it had succeeded...
    from monocle_apptrace.instrumentation.common import span_handler, wrapper

    source = inspect.getsource(wrapper.amonocle_wrapper_span_processor)
    assert "except Exception" in source
    assert "CancelledError" not in source and "BaseException" not in source
    # ...and what it relies on: a status set before post-processing stands.
    hydrate = inspect.getsource(span_handler.SpanHandler.hydrate_span)
    assert "span.status.status_code == StatusCode.UNSET" in hydrate


async def test_spans_record_the_caller_as_their_source(tracing, models):
    from order_tracking.agents.build import build_order_agents
    from order_tracking.async_runner import track_order
    from order_tracking.core.results import RunLimits

    (agent,) = build_order_agents(models, names=["payment_agent"])
    report = await track_order("ORD-1001", [agent], tracing, limits=RunLimits())
    sources = [s["attributes"].get("span_source", "") for s in load_trace(report.trace_file)]
    wrapped = [s for s in sources if s and "workflow" not in s]
    assert wrapped and all(s.rsplit(":", 1)[1].isdigit() for s in wrapped)
    # The caller of an instrumented method, never Monocle's own wrapper code.
    assert not any("monocle_apptrace" in s or "workarounds.py" in s for s in wrapped)


@pytest.mark.parametrize("ours", [False, True])
async def test_uvicorn_installs_signal_handlers_in_capture_signals_unless_ours(ours):
    async def app(scope, receive, send):  # pragma: no cover - never called
        pass

    config = uvicorn.Config(app, log_level="critical")
    server = workarounds.server_without_signal_handlers(config) if ours else uvicorn.Server(config)
    sock = socket.create_server(("127.0.0.1", 0))
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    async def watch() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        seen.append(signal.getsignal(signal.SIGTERM))
        server.should_exit = True

    watcher = asyncio.create_task(watch())
    await server.serve(sockets=[sock])
    await watcher
    sock.close()
    assert (seen[0] == before) is ours  # uvicorn's own hook would have replaced the handler
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize(
    "sent",
    [
        [b"GET / HTTP/1.1\r\nHost: x\r\n"],  # half the headers, never the rest
        [b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n"],  # trickled
        [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", b"a", b"b"],
    ],
)
async def test_uvicorns_h11_protocol_has_no_request_timeout_and_ours_adds_one(sent):
    """The gap the bounded protocol fills: uvicorn arms no timer until a first response, and
    any byte disarms the one it has, so a request that never completes (headers or a
    promised body) keeps its connection; ours closes it, and refuses connections beyond its
    limit at once."""

    async def app(scope, receive, send):
        if scope["type"] == "http":  # a request that did arrive whole gets an answer
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    async def closed(protocol) -> bool:
        """Whether the server closes the connection (within 2 s of the last byte sent)."""
        server = uvicorn.Server(uvicorn.Config(app, http=protocol, log_level="critical"))
        sock = socket.create_server(("127.0.0.1", 0))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])

        async def trickle() -> None:
            for chunk in sent:
                writer.write(chunk)
                await asyncio.sleep(0.2)

        feeding = asyncio.create_task(trickle())
        try:
            while await asyncio.wait_for(reader.read(1000), 2 + 0.2 * len(sent)):
                pass  # a response, if the request reached the app: then keep waiting
            return True  # end of file: the server closed it
        except TimeoutError:
            return False
        finally:
            feeding.cancel()
            writer.close()
            server.should_exit = True
            await serving
            sock.close()

    assert not await closed("h11")
    assert await closed(workarounds.bounded_h11_protocol(0.5, 100))
    assert await closed(workarounds.bounded_h11_protocol(30, 0))  # over the limit: at once


def test_monocle_still_detaches_a_generators_span_from_a_copied_context(caplog):
    """What ``quiet_foreign_context_detach`` works around, reproduced: a span opened inside an
    async generator, the generator closed from a task whose context is a copy of the one the
    span was opened in (as the event loop's finaliser does with the generators ADK leaves
    unfinished). Monocle's guard lets the detach through and OpenTelemetry logs an ERROR; the
    filter drops exactly that record, and lets any other through."""
    import logging

    from monocle_apptrace.instrumentation.common.wrapper import start_as_monocle_span
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")

    async def generator():
        with start_as_monocle_span(tracer, "s", True):
            yield 1
            yield 2

    async def left_unfinished() -> None:
        started = generator()
        await started.__anext__()
        await asyncio.create_task(started.aclose())

    logger = logging.getLogger("opentelemetry.context")
    kept = list(logger.filters)
    for f in kept:
        logger.removeFilter(f)
    try:
        with caplog.at_level(logging.ERROR, "opentelemetry.context"):
            asyncio.run(left_unfinished())
        assert [r.getMessage() for r in caplog.records] == ["Failed to detach context"] * 4
        caplog.clear()
        workarounds.quiet_foreign_context_detach()
        workarounds.quiet_foreign_context_detach()  # idempotent
        with caplog.at_level(logging.ERROR, "opentelemetry.context"):
            asyncio.run(left_unfinished())
            logger.error("Failed to detach context")  # not Monocle's: kept
        assert [r.getMessage() for r in caplog.records] == ["Failed to detach context"]
        assert len([f for f in logger.filters if f not in kept]) == 1
    finally:
        for f in list(logger.filters):
            logger.removeFilter(f)
        for f in kept:
            logger.addFilter(f)


def test_the_otlp_exporter_still_keeps_its_requests_session_where_we_reach_it():
    """``without_redirects`` sets ``max_redirects`` on the exporter's private ``_session``
    (what it follows redirects with: ``tests/tracing/test_otlp.py`` shows the effect)."""
    import requests
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:9/v1/traces")
    try:
        assert isinstance(exporter._session, requests.Session)
        assert exporter._session.max_redirects > 0  # requests' default: redirects followed
        workarounds.without_redirects(exporter)
        assert exporter._session.max_redirects == 0
    finally:
        exporter.shutdown()
