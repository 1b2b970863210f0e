"""A stranger's MCP server behind ``TOOLS_MCP_URL`` (``support/hostile_mcp.py``, over stdio):
its results enter through the way in (``agents/tool_results.py``). Card data never reaches a
tool result, a model, an answer or a trace; a huge, deeply nested or misshapen result is that
server being unavailable, bounded like an HTTP backend's answer, never an error or an ``ok``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from order_tracking.agents.specialists import SPECIALIST_NAMES

HOSTILE = Path(__file__).resolve().parents[1] / "support" / "hostile_mcp.py"
AGENTS = SPECIALIST_NAMES


def _track(capsys, monkeypatch, mode: str) -> tuple[int, str, dict, str]:
    monkeypatch.setenv("TOOLS_MCP_URL", f"{sys.executable} {HOSTILE}")
    monkeypatch.setenv("TOOLS_MCP_TIMEOUT_S", "60")  # a loaded machine is slow, not hostile
    monkeypatch.setenv("HOSTILE_MCP", mode)
    code, out, err = run_cli(capsys, "ORD-1001", "--json")
    document = json.loads(out)
    trace = Path(document["trace_file"]).read_text() if document["trace_file"] else ""
    return code, out, document, trace


def test_card_data_from_an_mcp_server_reaches_nothing(capsys, cli_env, monkeypatch):
    """An MCP server returning `card_number` and `cvv` produced an `ok`, verified answer with
    the card number, and the trace held it 15 times."""
    code, out, document, trace = _track(capsys, monkeypatch, "card")
    for text in (out, trace):
        for what in ("4111111111111111", "4111 1111 1111 1111", "card_number", '"cvv', "12/27"):
            assert what not in text
    agents = {a["agent"]: a for a in document["agents"]}
    payment = agents["payment_agent"]
    assert (payment["status"], payment["text"]) == ("ok", "Status: captured | Amount: $299.99 USD")
    # A card number in an item's name: the result does not fit, the server is unavailable.
    assert agents["order_status_agent"]["status"] == "unavailable"
    assert code == 1


@pytest.mark.parametrize("mode", ["huge", "deep", "wrong"])
def test_a_result_that_does_not_fit_is_the_server_unavailable(capsys, cli_env, monkeypatch, mode):
    """A 20 MB result gave a 97 MB trace and 19.5 MB of stdout; deeply nested text made every
    agent `error` (RecursionError); malformed shapes came back `ok`."""
    code, out, document, trace = _track(capsys, monkeypatch, mode)
    assert code == 1
    statuses = {a["agent"]: a["status"] for a in document["agents"]}
    assert set(statuses) == set(AGENTS)
    assert set(statuses.values()) == {"unavailable"}, statuses
    assert len(out) < 20_000 and len(trace) < 1_000_000
    assert "shipped\\u001b" not in out and "RecursionError" not in out


def test_an_mcp_servers_error_message_is_bounded_everywhere(capsys, cli_env, monkeypatch):
    """A JSON-RPC error instead of a result, its message 100,000 characters: the model got a
    generic error, but the MCP instrumentation's span kept the whole message as its status,
    once per call (a 20 MB message: 20 MB per span). The trace keeps at most 2,000."""
    from hostile_mcp import INJECTED

    code, out, document, trace = _track(capsys, monkeypatch, "rpcerror")
    assert code == 1
    assert {a["status"] for a in document["agents"]} == {"unavailable"}
    assert INJECTED not in out and "pwned" not in out
    statuses = [s["status"].get("message") or "" for s in json.loads(trace)]
    assert any(INJECTED in m for m in statuses)  # the reason is kept, bounded
    assert max(map(len, statuses)) <= 2_000
