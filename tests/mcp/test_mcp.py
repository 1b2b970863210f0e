"""``track-order mcp``: the official MCP client lists and calls every tool in memory, over stdio
(a real subprocess) and over streamable HTTP on loopback; bad arguments are refused before any
backend; errors are tool errors with the tools' own messages; no card data leaves."""

import json
import os
import signal
from typing import Any

import httpx
import pytest
from helpers import TRACK_ORDER, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters
from mcp_process import McpServer

from order_tracking.agents.tools import TOOL_NAMES, build_tools
from order_tracking.backends import Backends, mock_backends
from order_tracking.mcp.server import build_mcp_server

KEY = "mcp-test-key-0123456789"


class Counting:
    """A backend system that counts the lookups that reach it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await method(*args, **kwargs)

        return counted


def _spied() -> tuple[dict, Counting]:
    inner = mock_backends()
    spy = Counting(inner.oms)
    return build_tools(Backends(spy, spy, spy, spy)), spy


async def _all_calls(client: Client) -> dict[str, Any]:
    """What every tool says about the article's orders and SKUs, by (tool, argument)."""
    seen = {}
    for order in ("ORD-1001", "ORD-1002", "ORD-1003", "ORD-9999"):
        for name in TOOL_NAMES:
            result = await client.call_tool(name, {"order_id": order})
            seen[name, order] = (result.is_error, result.structured_content, _text(result))
    for sku in ("SKU-APL-01", "SKU-MON-22", "SKU-NOPE"):
        result = await client.call_tool("check_inventory", {"sku": sku})
        seen["check_inventory", sku] = (result.is_error, result.structured_content, _text(result))
    return seen


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def _expected() -> dict[str, Any]:
    """The same calls made on the agents' own functions."""
    tools = build_tools(mock_backends())
    seen = {}
    calls = [
        (n, {"order_id": o}, o)
        for o in ("ORD-1001", "ORD-1002", "ORD-1003", "ORD-9999")
        for n in TOOL_NAMES
    ]
    calls += [("check_inventory", {"sku": s}, s) for s in ("SKU-APL-01", "SKU-MON-22", "SKU-NOPE")]
    for name, args, key in calls:
        result = await tools[name](**args)
        if result["status"] == "error":
            seen[name, key] = (True, None, result["error_message"])
        else:
            seen[name, key] = (False, result, None)
    return seen


def _same(seen: dict, expected: dict) -> None:
    assert set(seen) == set(expected)
    for key, (is_error, structured, text) in expected.items():
        got = seen[key]
        assert got[0] == is_error, key
        if is_error:
            assert got[2] == text, key  # the tool's own message, nothing added
        else:
            assert got[1] == structured, key


async def test_every_tool_listed_as_the_agents_see_it_and_answering_the_same():
    tools = build_tools(mock_backends())
    async with Client(build_mcp_server(tools)) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert list(listed) == list(TOOL_NAMES)
        for name, tool in listed.items():
            assert tool.description == tools[name].__doc__.strip().splitlines()[0]
        assert listed["get_order_status"].input_schema["required"] == ["order_id"]
        assert listed["get_order_status"].input_schema["properties"]["order_id"]["type"] == "string"
        assert set(listed["check_inventory"].input_schema["properties"]) == {"sku", "order_id"}
        _same(await _all_calls(client), await _expected())


async def test_no_card_data_leaves():
    async with Client(build_mcp_server(build_tools(mock_backends()))) as client:
        for order in ("ORD-1001", "ORD-1002", "ORD-1003"):
            result = await client.call_tool("get_payment_status", {"order_id": order})
            said = json.dumps(result.model_dump(mode="json"))
            assert set(result.structured_content) == {
                "status", "order_id", "payment_status", "amount", "currency"
            }  # fmt: skip
            for card in ("4111111111111111", "5500005555555559", "340000000000009", "card"):
                assert card not in said


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"order_id": 1001}, "Give an order id as a non-empty string."),
        ({}, "Give an order id as a non-empty string."),
        ({"order_id": "ORD-1001", "card": "x"}, "get_payment_status takes no argument 'card'"),
        ({"order_id": "ORD-" + "1" * 100_000}, "That order id is too long to be valid."),
        ({"order_id": "ORD-99x"}, "That is not an order id (invalid order id 'ORD-99x'"),
        ({"order_id": "ORD-1\n001"}, "That order id has characters no order id has."),
        # Stripped to ORD-1001 and answered; the README says an id with a line break is refused.
        ({"order_id": "ORD-1001\n"}, "That order id has characters no order id has."),
        ({"order_id": "\tORD-1001"}, "That order id has characters no order id has."),
        ({"order_id": "ORD-1001\x1b[2J"}, "That order id has characters no order id has."),
        ({"order_id": "  "}, "Give an order id as a non-empty string."),
    ],
)
async def test_bad_arguments_are_refused_before_any_backend(arguments, message):
    tools, spy = _spied()
    async with Client(build_mcp_server(tools)) as client:
        result = await client.call_tool("get_payment_status", arguments)
    assert result.is_error and message in _text(result) and "\n" not in _text(result)
    assert spy.calls == 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(TOOL_NAMES),
    arguments=st.dictionaries(
        st.sampled_from(["order_id", "sku", "other"]),
        st.none() | st.integers() | st.text(max_size=80) | st.lists(st.integers(), max_size=3),
        max_size=3,
    ),
)
async def test_any_arguments_are_an_answer_or_a_tool_error(name, arguments):
    async with Client(build_mcp_server(build_tools(mock_backends()))) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error or result.structured_content["status"] == "success"
    assert "Traceback" not in _text(result)


async def test_over_stdio_from_a_real_subprocess(tmp_path):
    params = StdioServerParameters(
        command=TRACK_ORDER,
        args=["mcp"],
        env={**os.environ, "ORDER_BACKEND": "mock"},
        cwd=str(tmp_path),
    )
    async with Client(params) as client:
        assert [t.name for t in (await client.list_tools()).tools] == list(TOOL_NAMES)
        _same(await _all_calls(client), await _expected())
        bad = await client.call_tool("get_order_status", {"order_id": 7})
        assert bad.is_error and _text(bad) == "Give an order id as a non-empty string."


async def test_over_streamable_http_with_a_key_and_a_clean_stop(tmp_path):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    # 127.0.0.2 is loopback too: no key needed there, but one is given, so it is wanted.
    server = McpServer(tmp_path, 0, "--host", "127.0.0.2", env={"SERVICE_API_KEYS": KEY})
    url = server.start()
    proc = server.proc
    try:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        accept = {"Accept": "application/json, text/event-stream"}
        refused = httpx.post(url, json=hello, headers=accept, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="order_tracking"'
        with_key = {**accept, "X-API-Key": KEY}
        assert httpx.post(url, json=hello, headers=with_key, timeout=10).status_code == 200
        # A page that rebinds its own name to this address is not answered.
        rebound = httpx.post(url, json=hello, headers={**with_key, "Host": "evil.example"})
        assert rebound.status_code == 421
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                assert [t.name for t in (await client.list_tools()).tools] == list(TOOL_NAMES)
                _same(await _all_calls(client), await _expected())
        # Our agents with a wrong key are told what to check; with the right one, they answer.
        for key, answered in (("wrong-key-0123456789", False), (KEY, True)):
            report = await _agents_over(url, key)
            assert all(r.ok for r in report.results) == answered, report
            if not answered:
                assert (
                    "the server refused our key: check TOOLS_MCP_API_KEY" in report.results[0].text
                )
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert server.log.read_text().endswith("Stopped by SIGTERM.\n")


async def _agents_over(url: str, key: str):
    from order_tracking import composition
    from order_tracking.core.settings import OFFLINE_MODEL, Settings

    settings = Settings(default_model=OFFLINE_MODEL, tools_mcp=url, tools_mcp_api_key=key)
    app = composition.build(settings, traced=False)
    try:
        return await app.track_order("ORD-1001")
    finally:
        await app.aclose()


def test_a_busy_port_or_an_open_port_without_a_key_is_one_line_and_exit_2(capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run_cli(capsys, "mcp", "--transport", "http", "--port", str(port))
    assert (code, out) == (2, "")
    assert err == f"track-order: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    code, _, err = run_cli(capsys, "mcp", "--transport", "http", "--host", "0.0.0.0")
    assert code == 2 and "SERVICE_API_KEYS" in err and err.count("\n") == 1
