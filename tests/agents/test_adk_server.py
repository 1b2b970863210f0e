"""`adk api_server` (the server behind `adk web`) on 127.0.0.1, asked about orders over HTTP."""

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers import ARTICLE_ANSWERS, REPO_ROOT

APP = "order_tracking"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    traces = tmp_path_factory.mktemp("adk-traces")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"SHIPPING_MODEL", "OPENAI_API_KEY"}}
    # Built before the per-test _hermetic_env runs: no developer's order_tracking/.env either.
    env["ADK_DISABLE_LOAD_DOTENV"] = "1"
    env["MONOCLE_TRACE_OUTPUT_PATH"] = str(traces)
    adk = Path(sys.executable).parent / "adk"
    log = (traces / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(adk),
            "api_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--session_service_uri",
            "memory://",
            ".",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{base}/list-apps", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "adk api_server did not start:\n" + (traces / "server.log").read_text()
                    )
                time.sleep(0.3)
        yield base, traces
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _new_session(base):
    response = httpx.post(f"{base}/apps/{APP}/users/u/sessions", json={}, timeout=30)
    response.raise_for_status()
    return response.json()["id"]


def _message(text):
    return {"role": "user", "parts": [{"text": text}]}


def test_lists_exactly_our_app(server):
    base, _ = server
    assert httpx.get(f"{base}/list-apps", timeout=30).json() == [APP]


def test_coordinator_routes_an_order_question_over_http(server):
    base, traces = server
    session = _new_session(base)
    events = httpx.post(
        f"{base}/run",
        json={
            "appName": APP,
            "userId": "u",
            "sessionId": session,
            "newMessage": _message("Where is my package? It's order ORD-1001"),
        },
        timeout=60,
    ).json()
    transfer = events[0]["content"]["parts"][0]["functionCall"]
    assert (events[0]["author"], transfer["name"], transfer["args"]) == (
        "coordinator_agent",
        "transfer_to_agent",
        {"agent_name": "shipping_agent"},
    )
    final = events[-1]
    assert final["author"] == "shipping_agent"
    assert final["content"]["parts"][0]["text"] == ARTICLE_ANSWERS["shipping_agent"]

    # Each chat turn is traced by Monocle into the configured folder.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        files = [
            p
            for p in traces.glob("monocle_trace_order_tracking_asyncio_*.json")
            if p.stat().st_size
        ]
        texts = [p.read_text() for p in files]
        if any("get_shipping_details" in t and t.rstrip().endswith("]") for t in texts):
            break
        time.sleep(0.5)
    else:
        pytest.fail("no trace file for the chat turn")
    spans = json.loads(next(t for t in texts if "get_shipping_details" in t))
    assert {s["attributes"].get("span.type") for s in spans} >= {
        "workflow",
        "agentic.invocation",
        "agentic.tool.invocation",
        "inference",
    }
    # A newcomer's first chat is clean: the turn logged four "ERROR … Failed to detach
    # context" tracebacks from Monocle's wrapper around ADK's async generators.
    log = (traces / "server.log").read_text()
    assert "Failed to detach context" not in log and "Traceback" not in log, log[-3000:]


def test_streaming_follow_up_keeps_the_order_id(server):
    base, _ = server
    session = _new_session(base)
    httpx.post(
        f"{base}/run",
        json={
            "appName": APP,
            "userId": "u",
            "sessionId": session,
            "newMessage": _message("Where is ORD-1003?"),
        },
        timeout=60,
    )
    with httpx.stream(
        "POST",
        f"{base}/run_sse",
        json={
            "appName": APP,
            "userId": "u",
            "sessionId": session,
            "streaming": True,
            "newMessage": _message("Has it been paid?"),
        },
        timeout=60,
    ) as response:
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    finals = [
        e
        for e in events
        if not e.get("partial") and e.get("content", {}).get("parts", [{}])[0].get("text")
    ]
    assert [(e["author"], e["content"]["parts"][0]["text"]) for e in finals] == [
        ("payment_agent", "Status: captured | Amount: $89.50 USD")
    ]
    assert any(e.get("partial") for e in events)  # it really streamed


@pytest.mark.parametrize(
    "part, kind",
    [
        (
            {
                "inlineData": {
                    "mimeType": "application/octet-stream",
                    "data": base64.b64encode(os.urandom(5_000_000)).decode(),
                }
            },
            "an inline data part",
        ),
        (
            {"functionCall": {"name": "get_payment_status", "args": {"order_id": "ORD-1001"}}},
            "a function call part",
        ),
    ],
)
def test_a_message_that_is_not_text_gets_a_refusal_not_a_500(server, part, kind):
    base, _ = server
    response = httpx.post(
        f"{base}/run",
        json={
            "appName": APP,
            "userId": "u",
            "sessionId": _new_session(base),
            "newMessage": {"role": "user", "parts": [{"text": "Where is ORD-1001?"}, part]},
        },
        timeout=120,
    )
    assert response.status_code == 200
    (event,) = response.json()
    assert event["author"] == "coordinator_agent"
    assert event["content"]["parts"][0]["text"] == (
        f"I can only read plain text messages about orders, e.g. 'Where is ORD-1001?' "
        f"(this one has {kind})."
    )
