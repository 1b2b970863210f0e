"""TOOLS_MCP_URL: the agents take their tools from an MCP server (``track-order mcp``, started
once per session on loopback) through ADK's McpToolset: the article's answers with an MCP span
per tool call in the order's one trace, a batch of 100 orders, the server killed mid-batch
(the agents say so, nothing hangs) and started again (the next order is answered), a server
over stdio, and results from a stranger's server in any shape."""

import asyncio
import json
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import ARTICLE_ANSWERS, EXPECTED_BODY, TRACK_ORDER, load_trace, run_cli
from hypothesis import given
from hypothesis import strategies as st
from mcp_process import McpServer
from temporal_server import free_port

from order_tracking import composition
from order_tracking.core.results import Status
from order_tracking.core.settings import OFFLINE_MODEL, ConfigError, Settings
from order_tracking.mcp.client import _from_mcp, connection_params


@pytest.fixture(scope="session")
def mcp_url(tmp_path_factory):
    server = McpServer(tmp_path_factory.mktemp("mcp"))
    try:
        yield server.start()
    finally:
        server.kill()


def _app(url: str, timeout_s: float = 10.0):
    settings = Settings(default_model=OFFLINE_MODEL, tools_mcp=url, tools_mcp_timeout_s=timeout_s)
    return composition.build(settings, traced=False)


def test_the_article_output_with_the_tools_over_mcp(capsys, cli_env, monkeypatch, mcp_url):
    monkeypatch.setenv("TOOLS_MCP_URL", mcp_url)
    code, out, _ = run_cli(capsys, "ORD-1001")
    assert code == 0 and out.startswith(EXPECTED_BODY)
    trace = Path(re.search(r"Traces written to: (\S+)\n", out).group(1))
    spans = load_trace(trace)
    by_id = {s["context"]["span_id"]: s for s in spans}
    calls = [s for s in spans if s["attributes"].get("span.type") == "agentic.mcp.invocation"]
    # One MCP span per tool call, each under its agent's span, in the order's one trace.
    assert len(calls) == 7  # the support agent makes three calls
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    agents = set()
    for span in calls:
        parent = by_id.get(span["parent_id"])
        while parent is not None and parent["attributes"].get("span.type") != "agentic.invocation":
            parent = by_id.get(parent["parent_id"])
        assert parent is not None, span
        agents.add(parent["attributes"].get("entity.1.name"))
    assert agents == set(ARTICLE_ANSWERS)
    from order_tracking.tracing.files import load_trace as read_trace
    from order_tracking.tracing.view import render_text

    shown = render_text(read_trace(trace))
    assert shown.count("mcp tool: get_shipping_details") == 2  # shipping and support agents


async def test_a_batch_of_100_orders_over_mcp_is_answered(mcp_url, caplog):
    caplog.set_level(logging.WARNING)
    app = _app(mcp_url)
    try:
        ids = [f"ORD-100{1 + n % 3}" for n in range(100)]
        summary = await app.track_orders(ids, concurrency=25)
    finally:
        await app.aclose()  # closes the toolset
    assert (summary.orders, summary.answered, summary.failed) == (100, 500, 0)
    # ADK's known failure here (a cancel scope exited in another task) is logged, not raised.
    assert not [r for r in caplog.records if "cancel scope" in r.getMessage().lower()]


async def test_the_server_killed_mid_batch_then_started_again(tmp_path):
    server = McpServer(tmp_path, free_port())
    server.start()
    app = _app(server.url, timeout_s=5)
    results = []

    def on_result(order_id, result):
        results.append(result)
        if len(results) == 25:
            server.kill()

    try:
        # The guard is the hang detector, not a measurement: a run that hangs fails here.
        async with asyncio.timeout(120):
            summary = await app.track_orders(
                [f"ORD-100{1 + n % 3}" for n in range(20)], concurrency=5, on_result=on_result
            )
            assert summary.orders == 20 and summary.answered >= 25 and summary.failed > 0
            failed = [r for r in results if not r.ok]
            assert {r.status for r in failed} == {Status.UNAVAILABLE}
            assert all(r.error == "no answer from the order tools system" for r in failed)
            assert all(r.text.startswith("The order tools server is unavailable (") for r in failed)
            server.start()  # the same port: the next order finds it again
            report = await app.track_order("ORD-1001")
        assert {r.agent: r.text for r in report.results} == ARTICLE_ANSWERS
    finally:
        await app.aclose()
        server.kill()


async def test_a_server_started_over_stdio(tmp_path):
    app = _app(f"{TRACK_ORDER} mcp")
    try:
        report = await app.track_order("ORD-1002")
        again = await app.track_order("ORD-1001")  # the same session, kept
    finally:
        await app.aclose()
    assert all(r.ok for r in report.results), report
    assert {r.agent: r.text for r in again.results} == ARTICLE_ANSWERS


async def test_a_stdio_server_gets_this_processs_settings(monkeypatch):
    # The server is started with our environment: its id pattern refuses the article's ids.
    monkeypatch.setenv("ORDER_ID_PATTERN", "#W[0-9]{7}")
    app = _app(f"{TRACK_ORDER} mcp")
    try:
        report = await app.track_order("ORD-1001")
    finally:
        await app.aclose()
    payment = report.results[3]
    assert payment.text.startswith("That is not an order id (invalid order id 'ORD-1001'")


def test_a_stdio_server_that_never_answers_does_not_hold_the_exit(tmp_path):
    env = {**os.environ, "TOOLS_MCP_URL": "sleep 600", "TOOLS_MCP_TIMEOUT_S": "2"}
    # The timeout is the hang detector, not a measurement.
    done = subprocess.run(
        [TRACK_ORDER, "ORD-1001"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("UNAVAILABLE: no answer from the order tools system") == 5
    assert "Traceback" not in done.stderr


def test_the_setting_is_a_url_or_a_command():
    http = connection_params("http://127.0.0.1:8090/mcp", api_key="k" * 20, timeout_s=3)
    assert (http.url, http.headers, http.timeout) == (
        "http://127.0.0.1:8090/mcp",
        {"Authorization": "Bearer " + "k" * 20},
        3,
    )
    stdio = connection_params("uv run 'track-order' mcp", api_key=None, timeout_s=3)
    assert (stdio.server_params.command, stdio.server_params.args) == (
        "uv",
        ["run", "track-order", "mcp"],
    )
    assert connection_params("HTTPS://h/mcp", api_key=None, timeout_s=3).url == "HTTPS://h/mcp"
    with pytest.raises(ConfigError, match="TOOLS_MCP_TIMEOUT_S must be greater than 0"):
        Settings.from_env({"TOOLS_MCP_TIMEOUT_S": "0"})
    with pytest.raises(ConfigError, match="TOOLS_MCP_URL is not a command line"):
        Settings.from_env({"TOOLS_MCP_URL": "'unclosed"})


PAYMENT = {
    "status": "success",
    "order_id": "ORD-1",
    "payment_status": "captured",
    "amount": 1.5,
    "currency": "USD",
}


def test_mcp_results_become_the_tools_shape():
    asked = {"order_id": "ORD-1"}
    ok = {"content": [], "structuredContent": PAYMENT, "isError": False}
    assert _from_mcp(ok, "get_payment_status", asked) == PAYMENT
    error = {"content": [{"type": "text", "text": "Order ORD-9 not found."}], "isError": True}
    assert _from_mcp(error, "get_payment_status", asked) == {
        "status": "error",
        "error_message": "Order ORD-9 not found.",
    }
    text_only = {"content": [{"type": "text", "text": json.dumps(PAYMENT)}]}
    assert _from_mcp(text_only, "get_payment_status", asked) == PAYMENT
    # An error without a message of its own still has one (the agent relays it).
    no_message = {"structuredContent": {"status": "error"}}
    assert _from_mcp(no_message, "get_payment_status", asked) == {
        "status": "error",
        "error_message": "The lookup failed.",
    }
    odd = {"content": [{"type": "text", "text": '{"status": "error", "error_message": 5}'}]}
    assert _from_mcp(odd, "get_payment_status", asked)["error_message"] == "The lookup failed."
    failed = _from_mcp({"error": "MCP tool execution failed: boom"}, "get_payment_status", asked)
    assert failed["error_message"].startswith("The order tools server is unavailable (MCP tool")
    # A success that is not the tool's shape is the server failing, never an `ok` answer.
    partial = {"structuredContent": {"status": "success", "order_id": "ORD-1"}}
    assert _from_mcp(partial, "get_payment_status", asked)["status"] == "error"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=15), inner, max_size=4)
    ),
    max_leaves=15,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "content": _json,
            "structuredContent": _json,
            "isError": _json,
            "error": _json,
        },
    )
    | _json
)
def test_any_answer_from_a_server_is_a_result_or_the_tools_error(answer):
    result = _from_mcp(answer, "get_order_status", {"order_id": "ORD-1"})
    assert isinstance(result, dict)
    assert result.get("status") != "error" or isinstance(result.get("error_message"), str)


def test_a_get_on_the_endpoint_is_answered_405_at_once(mcp_url):
    """`GET /mcp` opened the server-to-client stream of a stateless server, which never wrote
    to it: the request never returned. (The timeout is the hang detector.)"""
    import httpx

    response = httpx.get(mcp_url, headers={"Accept": "text/event-stream"}, timeout=30)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["message"].startswith("this server is stateless")
