"""`track-order serve`: the FastAPI app under uvicorn on 127.0.0.1, exercised over real HTTP.

The servers run in threads of this process (no new interpreter to pay for), each with its own
event loop, as `track-order serve` runs one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from helpers import (
    AGENT_FIELDS,
    ARTICLE_ANSWERS,
    ORDER_FIELDS,
    TRACK_ORDER,
    load_trace,
    offline_models,
    run_cli,
)

from order_tracking.composition import build, production_models
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.http.service import create_app


@contextmanager
def serving(app) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


SETTINGS = Settings(default_model=OFFLINE_MODEL)


def service(models, **options):
    """The FastAPI app around an App built as ``serve`` builds it, with these models (the
    session's tracing is installed first: ``tracing`` fixture)."""
    return create_app(build(SETTINGS, models=models), **options)


def one_agent_on(model: str, agent: str):
    """The offline model for every agent but ``agent``, which gets ``model``."""
    special = production_models(Settings(default_model=model))
    offline = offline_models()
    return lambda name: special(name) if name == agent else offline(name)


@pytest.fixture(autouse=True)
def _provider(stub):
    """Every test here may reach the loopback OpenAI server (the payment agent does)."""


@pytest.fixture(scope="module")
def base_url(tracing) -> Iterator[str]:
    """One service for the module: the offline model, except a payment agent that answers
    after 0.5 s (through the loopback OpenAI server), so it always completes last."""
    with serving(service(one_agent_on("openai/slow-0.5", "payment_agent"))) as url:
        yield url


def test_post_returns_the_json_schema_with_the_article_answers(base_url):
    response = httpx.post(f"{base_url}/orders/ord-1001/track", timeout=60)
    assert response.status_code == 200
    order = response.json()
    assert set(order) == ORDER_FIELDS
    assert order["order_id"] == "ORD-1001"
    for agent in order["agents"]:
        assert set(agent) == set(AGENT_FIELDS)
        for name, kind in AGENT_FIELDS.items():
            assert isinstance(agent[name], kind), (name, agent[name])
    assert {a["agent"]: a["text"] for a in order["agents"]} == ARTICLE_ANSWERS
    assert load_trace_file(order["trace_file"])  # one request, one complete trace


def load_trace_file(path: str) -> list:
    spans = load_trace(Path(path))
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    return spans


def test_the_stream_sends_each_agent_as_it_completes_then_the_order(base_url):
    with httpx.stream("GET", f"{base_url}/orders/ORD-1001/track/stream", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(response.iter_lines()))
    kinds = [kind for kind, _ in events]
    assert kinds == ["agent"] * 5 + ["order"]
    agents = [data["agent"] for _, data in events[:5]]
    assert sorted(agents) == sorted(ARTICLE_ANSWERS) and agents[-1] == "payment_agent"
    assert {d["agent"]: d["text"] for _, d in events[:5]} == ARTICLE_ANSWERS
    order = events[-1][1]
    assert order["order_id"] == "ORD-1001" and load_trace_file(order["trace_file"])


@pytest.mark.parametrize("path", ["/orders/1001/track", "/orders/ORD-12a/track"])
def test_a_bad_order_id_is_422_with_a_clear_message(base_url, path):
    for response in (
        httpx.post(base_url + path, timeout=10),
        httpx.get(base_url + path + "/stream", timeout=10),
    ):
        assert response.status_code == 422
        assert response.json() == {
            "detail": f"invalid order id {path.split('/')[2]!r}: expected ORD- followed by "
            "digits, e.g. ORD-1001"
        }


def test_an_id_with_surrounding_whitespace_is_refused_over_http(base_url):
    # On the command line a line's spaces are formatting; in a URL they are a client's bug.
    response = httpx.post(f"{base_url}/orders/%20ORD-1001%20/track", timeout=10)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid order id ' ORD-1001 ': ")


async def test_the_422_follows_the_configured_order_id_pattern():
    from order_tracking.backends import mock_backends
    from order_tracking.core.order_ids import OrderIdPattern

    records = [
        {
            "order_id": "113-1234567-1234567",
            "status": "processing",
            "placed_date": "2024-05-01",
            "items": [{"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 1}],
        }
    ]
    pattern = OrderIdPattern(r"[0-9]{3}-[0-9]{7}-[0-9]{7}")
    settings = Settings(default_model=OFFLINE_MODEL, order_ids=pattern)
    backends = mock_backends(records, order_ids=pattern)
    app = create_app(build(settings, backends=backends, traced=False))
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        refused = await client.post("/orders/ORD-1001/track")
        assert refused.status_code == 422
        assert refused.json()["detail"] == (
            "invalid order id 'ORD-1001': expected an id matching ORDER_ID_PATTERN "
            "'[0-9]{3}-[0-9]{7}-[0-9]{7}'"
        )
        answered = await client.post("/orders/113-1234567-1234567/track")
    assert answered.status_code == 200
    agents = {a["agent"]: a["text"] for a in answered.json()["agents"]}
    assert agents["order_status_agent"] == "Status: processing | Items: 1 | Placed: 2024-05-01"


KEYS = ("k" * 16 + "-first", "k" * 16 + "-second")


@pytest.fixture(scope="module")
def keyed_url(tracing) -> Iterator[str]:
    with serving(service(offline_models(), api_keys=KEYS)) as url:
        yield url


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-of-some-length"},
        {"X-API-Key": KEYS[0][:-1]},
        {"Authorization": f"Basic {KEYS[0]}"},
    ],
)
def test_with_api_keys_an_order_needs_one(keyed_url, headers):
    for response in (
        httpx.post(f"{keyed_url}/orders/ORD-1001/track", headers=headers, timeout=10),
        httpx.get(f"{keyed_url}/orders/ORD-1001/track/stream", headers=headers, timeout=10),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="order_tracking"'
        assert response.json() == {"detail": "missing or invalid API key"}


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {KEYS[1]}"}, {"X-API-Key": KEYS[0]}]
)
def test_with_api_keys_either_header_with_any_key_is_let_in(keyed_url, headers):
    response = httpx.post(f"{keyed_url}/orders/ORD-1001/track", headers=headers, timeout=60)
    assert response.status_code == 200
    assert {a["agent"]: a["text"] for a in response.json()["agents"]} == ARTICLE_ANSWERS


def test_with_api_keys_health_ready_and_the_docs_stay_open(keyed_url):
    for path in ("/health", "/ready", "/docs", "/openapi.json"):
        assert httpx.get(keyed_url + path, timeout=10).status_code == 200, path


def test_serving_beyond_loopback_without_keys_is_refused(capsys):
    code, out, err = run_cli(capsys, "serve", "--host", "0.0.0.0", "--port", "0")
    assert (code, out) == (2, "")
    assert err == (
        "track-order: error: refusing to serve on 0.0.0.0:0 without authentication: "
        "set SERVICE_API_KEYS (or pass --insecure to serve anyway)\n"
    )


def test_a_short_api_key_is_a_setting_error(capsys, monkeypatch):
    monkeypatch.setenv("SERVICE_API_KEYS", "short")
    code, out, err = run_cli(capsys, "serve", "--port", "0")
    assert (code, out) == (2, "")
    assert err == (
        "track-order: error: SERVICE_API_KEYS: key 1 must be at least 16 printable characters "
        "without spaces\n"
    )


def test_an_unknown_order_is_answered_not_an_error(base_url):
    response = httpx.post(f"{base_url}/orders/ORD-9999/track", timeout=60)
    assert response.status_code == 200
    assert {a["text"] for a in response.json()["agents"]} == {"Order ORD-9999 not found."}


def test_health_ready_and_openapi(base_url):
    assert httpx.get(f"{base_url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/ready").json()
    last_hour = ready.pop("last_hour")
    last_day = ready.pop("last_day")
    assert (last_day["cost_usd"], last_day["max_cost_usd"], last_day["max_tokens"]) == (
        0.0,
        None,
        None,
    )
    assert ready == {"status": "ready", "agents": list(ARTICLE_ANSWERS), "orders_in_flight": 0}
    # The offline model costs nothing; no hourly limit is set.
    assert (last_hour["cost_usd"], last_hour["max_cost_usd"], last_hour["max_tokens"]) == (
        0.0,
        None,
        None,
    )
    spec = httpx.get(f"{base_url}/openapi.json").json()
    paths = {"/orders/{order_id}/track", "/orders/{order_id}/track/stream", "/health", "/ready"}
    assert paths | {"/metrics"} <= set(spec["paths"])
    docs = httpx.get(f"{base_url}/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    # Served from this process, so the page works offline: nothing is fetched from a CDN.
    assets = re.findall(r"""(?:href|src)=['"]([^'"]+)['"]""", docs.text)
    assert sorted(assets) == [
        "/docs-assets/favicon.png",
        "/docs-assets/swagger-ui-bundle.js",
        "/docs-assets/swagger-ui.css",
    ]
    for asset in assets:
        assert httpx.get(base_url + asset).status_code == 200
    assert "https://" not in docs.text


def test_agent_failures_are_data_not_500s(tracing):
    with serving(service(one_agent_on("openai/auth", "shipping_agent"))) as url:
        response = httpx.post(f"{url}/orders/ORD-1001/track", timeout=60)
    assert response.status_code == 200
    by_agent = {a["agent"]: a for a in response.json()["agents"]}
    shipping = by_agent.pop("shipping_agent")
    assert (shipping["ok"], shipping["status"]) == (False, "degraded")
    assert "1Z999AA1012345678" in shipping["text"]  # answered from the tool result alone
    assert all(a["ok"] for a in by_agent.values())


def test_orders_in_flight_are_bounded_and_agent_runs_too(tracing, stub):
    """Two orders admitted, the third refused at once (503 + Retry-After); across the two,
    never more than 3 agent runs reach the provider together."""
    slow = production_models(Settings(default_model="openai/slow-0.3"))
    app = service(slow, concurrency=3, max_orders=2)

    async def scenario(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            first = asyncio.create_task(client.post("/orders/ORD-1001/track"))
            second = asyncio.create_task(client.post("/orders/ORD-1002/track"))
            deadline = time.monotonic() + 30
            while stub.max_in_flight("slow-0.3") < 3:  # both admitted and running
                assert time.monotonic() < deadline, "the two orders never got going"
                await asyncio.sleep(0.02)
            refused = await client.post("/orders/ORD-1003/track")
            not_ready = await client.get("/ready")
            return [await first, await second, refused, not_ready]

    with serving(app) as url:
        first, second, refused, not_ready = asyncio.run(scenario(url))
        after = httpx.get(f"{url}/ready").json()
    assert (first.status_code, second.status_code) == (200, 200)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json() == {"detail": "too many orders in flight; retry shortly"}
    assert not_ready.status_code == 503 and not_ready.headers["retry-after"] == "1"
    assert after["orders_in_flight"] == 0  # every slot given back
    assert stub.max_in_flight("slow-0.3") == 3


def test_a_client_that_leaves_mid_stream_frees_its_slot_and_the_trace_closes(tracing, trace_dir):
    app = service(one_agent_on("openai/slow-5", "payment_agent"), max_orders=1)
    with serving(app) as url:
        started = time.monotonic()
        with httpx.stream("GET", f"{url}/orders/ORD-1002/track/stream", timeout=60) as response:
            first_kind, first = next(sse_events(response.iter_lines()))
        assert first_kind == "agent" and first["agent"] != "payment_agent"
        # The slot comes back well before the slow agent would have answered.
        while httpx.get(f"{url}/ready").status_code == 503:
            assert time.monotonic() - started < 4, "the order kept running after the client left"
            time.sleep(0.05)
    traces = sorted(trace_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
    spans = load_trace(traces[-1])  # complete JSON: the workflow span closed before the flush
    (root,) = [s for s in spans if s["parent_id"] is None]
    assert root["attributes"]["order_id"] == "ORD-1002"
    results = [
        e["attributes"]
        for s in spans
        for e in s["events"]
        if e["name"] == "agent.result" and e["attributes"]["agent"] == "payment_agent"
    ]
    assert [r["status"] for r in results] == ["cancelled"]


def test_a_busy_port_is_a_one_line_error_before_anything_starts(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run_cli(capsys, "serve", "--port", str(port))
    assert (code, out) == (2, "")
    assert err == f"track-order: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_serve_answers_over_http_and_stops_cleanly_on_sigterm(tmp_path):
    """The real command in its own process: it prints where it listens (port 0 picks a free
    one), answers, and SIGTERM is a graceful stop with exit 0 and no traceback."""
    env = dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path), SERVICE_API_KEYS=KEYS[0])
    proc = subprocess.Popen(
        [TRACK_ORDER, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    try:
        line = proc.stderr.readline()  # after start-up, before serving
        match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+) \(API docs at /docs\)\n", line)
        assert match, line
        url = match.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{url}/health", timeout=2).json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.1)
        assert httpx.post(f"{url}/orders/ORD-1001/track", timeout=60).status_code == 401
        order = httpx.post(
            f"{url}/orders/ORD-1001/track", headers={"X-API-Key": KEYS[0]}, timeout=60
        ).json()
        assert {a["agent"]: a["text"] for a in order["agents"]} == ARTICLE_ANSWERS
        assert (tmp_path / order["trace_file"]).is_file()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert (out, err) == ("", "Stopped by SIGTERM.\n")


def test_slow_clients_cannot_exhaust_the_server(tmp_path):
    """Slowloris against the real command with 256 descriptors: 300 connections that trickle
    their headers. Excess connections are closed at once, slow ones after --request-timeout,
    and /health answers within a few seconds; before, it stopped answering for good."""
    import resource

    def low_descriptor_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    env = dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path))
    log = tmp_path / "serve.log"  # a file, not a pipe: nothing here must block on its output
    proc = subprocess.Popen(
        [TRACK_ORDER, "serve", "--port", "0", "--request-timeout", "1"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env=env,
        cwd=tmp_path,
        preexec_fn=low_descriptor_limit,
    )
    slow: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Serving on http://127\.0\.0\.1:(\d+) ", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        port = int(found.group(1))
        deadline = time.monotonic() + 30
        while True:  # serving: the line above comes just before uvicorn starts listening
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.1)
        for _ in range(300):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the rest
                slow.append(conn)
            except OSError:
                pass  # closed at once: beyond the server's connection limit
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() - started < 15, "the server stopped answering"
            time.sleep(0.2)
        # The slow connections were cut off: reading them gives end of file, not a hang.
        slow[0].settimeout(5)
        assert slow[0].recv(100) == b""
    finally:
        for conn in slow:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text()  # nothing of the storm on the terminal


async def test_the_servers_sockets_answer_without_nagle_delays():
    # A socket made with proto 0 gets no TCP_NODELAY from asyncio, nor do the connections it
    # accepts: each response then waited ~40 ms for a delayed ACK (both servers had it).
    import asyncio
    import socket

    from order_tracking.core.listen import bind

    sock = bind("127.0.0.1", 0)
    accepted: list[int] = []

    async def on_connect(reader, writer):
        raw = writer.get_extra_info("socket")
        accepted.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        for _ in range(100):
            if accepted:
                break
            await asyncio.sleep(0.01)
        writer.close()
    assert accepted and accepted[0] != 0


def test_bodies_and_events_leave_through_the_way_out(tracing, stub, monkeypatch):
    """A model that echoes the provider's key and prints terminal controls: the key is
    redacted in the JSON body and in every server-sent event, and what a terminal would act
    on is escaped (C1 controls and direction overrides too, which JSON allows raw)."""
    from helpers import scripted_models

    from order_tracking.core.redaction import register_secret_values

    key = "sk-live-served-echo-00ff11ee22dd33cc"
    register_secret_values([key])
    said = f"Status: shipped {key}\x1b]0;x\x07\x9b2J\u202e"
    models = scripted_models({"order_status_agent": {"rewrite": lambda _text: said}})
    settings = Settings(default_model=OFFLINE_MODEL, answer_check="off")
    with serving(create_app(build(settings, models=models))) as url:
        response = httpx.post(f"{url}/orders/ORD-1001/track", timeout=60)
        with httpx.stream("GET", f"{url}/orders/ORD-1001/track/stream", timeout=60) as streamed:
            raw = "".join(streamed.iter_text())
    for body in (response.text, raw):
        assert key not in body and "[REDACTED]" in body
        assert not any(c in body for c in "\x1b\x07\x9b\u202e")
    texts = {a["agent"]: a["text"] for a in response.json()["agents"]}
    assert texts["order_status_agent"] == said.replace(key, "[REDACTED]")
