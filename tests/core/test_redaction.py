"""Secrets never written: key shapes, credentials inside URLs, and log records redacted without
breaking what other libraries' formatters expect of a record."""

from __future__ import annotations

import asyncio
import logging
import socket
import string

import httpx
import pytest
import uvicorn
from hypothesis import assume, given
from hypothesis import strategies as st
from uvicorn.logging import AccessFormatter

from order_tracking.core.redaction import REDACTED, install_log_redaction, redact, register_secrets

SECRETISH = st.text(string.ascii_letters + string.digits, min_size=8, max_size=24)
HOSTS = st.sampled_from(["127.0.0.1:8080", "api.example.com", "[::1]:9", "proxy.internal"])


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "http://admin:hunter2pass@127.0.0.1:4000/v1",
            f"http://{REDACTED}@127.0.0.1:4000/v1",
        ),
        ("https://ghp_token@github.com/x.git", f"https://{REDACTED}@github.com/x.git"),
        (
            "GET https://api.example.com/v1?api_key=abc123def&model=gpt-4o",
            f"GET https://api.example.com/v1?api_key={REDACTED}&model=gpt-4o",
        ),
        (
            "https://s3.example.com/b/o?X-Amz-Signature=deadbeef42&X-Amz-Expires=60",
            f"https://s3.example.com/b/o?X-Amz-Signature={REDACTED}&X-Amz-Expires=60",
        ),
        ("https://example.com/path?page=2#top", "https://example.com/path?page=2#top"),
        ("provider admin:hunter2pass@127.0.0.1:4000", f"provider {REDACTED}@127.0.0.1:4000"),
        ("write to ops@example.com", "write to ops@example.com"),  # not a URL's userinfo
    ],
)
def test_credentials_inside_urls_are_redacted(text, expected):
    assert redact(text) == expected


@given(
    scheme=st.sampled_from(["http", "https", "postgresql", "redis"]),
    user=st.text(string.ascii_letters, min_size=1, max_size=10),
    password=SECRETISH,
    host=HOSTS,
    around=st.text(string.ascii_letters + " ,.:;()", max_size=30),
)
def test_no_url_password_survives(scheme, user, password, host, around):
    assume(password not in REDACTED)  # else it is "found" in the replacement itself
    text = f"{around} {scheme}://{user}:{password}@{host}/v1 {around}"
    clean = redact(text)
    assert password not in clean.replace(around, "")
    assert f"{scheme}://{REDACTED}@{host}/v1" in clean
    # As a host is often recorded: without the scheme.
    assert password not in redact(f"{around} {user}:{password}@{host} {around}").replace(around, "")


@given(
    name=st.sampled_from(
        ["api_key", "apikey", "key", "token", "access_token", "secret", "password", "sig", "auth"]
    ),
    value=SECRETISH,
    host=HOSTS,
)
def test_no_secret_query_parameter_survives(name, value, host):
    assume(value not in REDACTED)
    clean = redact(f"https://{host}/v1/chat?{name}={value}&page=3")
    assert value not in clean and clean.endswith(f"?{name}={REDACTED}&page=3")


def _record(msg, args, name="uvicorn.access"):
    return logging.getLogRecordFactory()(name, logging.INFO, __file__, 1, msg, args, None)


def test_records_keep_their_arguments_for_other_libraries_formatters():
    install_log_redaction()
    record = _record(
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "GET", "/orders/ORD-1001/track?token=abcdef1234", "1.1", 200),
    )
    # uvicorn's access formatter unpacks the arguments and formats the status as a number.
    formatter = AccessFormatter(
        '%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )
    assert formatter.format(record) == (
        f'127.0.0.1:5555 - "GET /orders/ORD-1001/track?token={REDACTED} HTTP/1.1" 200 OK'
    )
    assert isinstance(record.args, tuple) and record.args[-1] == 200


@given(
    words=st.lists(st.text(string.ascii_letters + " :=/", max_size=12), min_size=1, max_size=4),
    secret_at=st.integers(min_value=0, max_value=3),
)
def test_a_formatted_record_never_shows_a_registered_secret(words, secret_at):
    install_log_redaction()
    secret = "sk-live-" + "q7Zr2Lx9" * 2
    register_secrets({"OPENAI_API_KEY": secret})
    args = [*words]
    args.insert(min(secret_at, len(args)), secret)
    record = _record(" ".join(["%s"] * len(args)), tuple(args), name="LiteLLM")
    message = record.getMessage()
    assert secret not in message and "q7Zr2Lx9" not in message
    assert redact(message) == message  # nothing left to redact
    assert isinstance(record.args, tuple)


def test_adks_own_log_calls_are_redacted_and_formatted(caplog):
    """A real ADK log call whose argument carries a key (the app name here)."""
    from google.adk.runners import Runner
    from google.adk.sessions import InMemorySessionService
    from helpers import offline_models

    from order_tracking.agents.build import build_root_agent

    install_log_redaction()
    app_name = "tenant-sk-abcdefghijklmnop"
    with caplog.at_level(logging.WARNING, logger="google_adk"):
        Runner(
            agent=build_root_agent(offline_models()),
            app_name=app_name,
            session_service=InMemorySessionService(),
        )
    (record,) = [r for r in caplog.records if "can transfer between agents" in r.getMessage()]
    assert record.getMessage().startswith(f'App "tenant-{REDACTED}" can transfer')
    assert "abcdefghijklmnop" not in caplog.text


def test_uvicorns_access_log_works_with_redaction_on(capfd):
    """The real server with its access log (as under ``serve -v`` and ``adk web``): no
    '--- Logging error ---' per request, and the request line, redacted."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    install_log_redaction()
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", access_log=True))

    async def scenario() -> int:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/track?api_key=abcdef123456")
        server.should_exit = True
        await serving
        return response.status_code

    assert asyncio.run(scenario()) == 200
    sock.close()
    out, err = capfd.readouterr()  # uvicorn logs requests to stdout, the rest to stderr
    assert "Logging error" not in out + err and "Traceback" not in out + err
    # (Once imported, LiteLLM adds its own filter to uvicorn's access log, which may shorten
    # an already redacted query further: either way the line is whole and the key is gone.)
    (line,) = [line for line in out.splitlines() if '"GET /track?' in line]
    assert line.endswith(' HTTP/1.1" 200 OK') and "REDACTED" in line
    assert "abcdef123456" not in out + err


async def test_credentials_in_the_provider_url_never_reach_the_trace(stub, monkeypatch, tracing):
    """``OPENAI_API_BASE=http://user:password@host/v1``: Monocle records the endpoint of every
    inference span; what reaches the trace file (and Okahu) has the password redacted."""
    from helpers import load_trace

    from order_tracking.agents.build import build_order_agents
    from order_tracking.async_runner import track_order
    from order_tracking.composition import production_models
    from order_tracking.core.results import RunLimits
    from order_tracking.core.settings import Settings

    base = stub.base_url.replace("http://", "http://admin:hunter2pass@")
    monkeypatch.setenv("OPENAI_API_BASE", base)
    models = production_models(Settings(default_model="openai/with-userinfo"))
    agents = build_order_agents(models, names=["payment_agent"])
    report = await track_order("ORD-1001", agents, tracing, limits=RunLimits())
    # (The OpenAI SDK does not connect through such a URL: the agent degrades, which records
    # the endpoint and the provider's error too.)
    (result,) = report.results
    assert "hunter2pass" not in f"{result.error} {result.text}"
    written = report.trace_file.read_text()
    endpoints = {
        s["attributes"]["entity.1.inference_endpoint"]
        for s in load_trace(report.trace_file)
        if "entity.1.inference_endpoint" in s["attributes"]
    }
    # LiteLLM's own HTTP handler (our default) records the URL it posts to.
    assert endpoints - {"offline://rule-based"} == {
        stub.base_url.replace("http://", f"http://{REDACTED}@") + "/chat/completions"
    }
    assert "hunter2pass" not in written and "admin:" not in written


def test_service_api_keys_are_redacted_like_other_secrets(monkeypatch):
    from order_tracking.composition import configure_process

    keys = ["svc-key-0123456789abcdef", "svc-key-fedcba9876543210"]
    monkeypatch.setenv("SERVICE_API_KEYS", ",".join(keys))
    configure_process()
    assert redact(f"got {keys[0]} and {keys[1]}") == f"got {REDACTED} and {REDACTED}"


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "key -----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34=\n-----END RSA PRIVATE KEY-----",
            f"key {REDACTED}",
        ),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4", f"jwt {REDACTED}"),
        ("aws AKIAIOSFODNN7EXAMPLE, then", f"aws {REDACTED}, then"),
        (
            "gh ghp_abcdefghijklmnop1234 slack xoxb-1234567890-abcd",
            f"gh {REDACTED} slack {REDACTED}",
        ),
        (
            '{"password": "hunter22", "pwd": "s3cr3t!!"}',
            f'{{"password": "{REDACTED}", "pwd": "{REDACTED}"}}',
        ),
        ("client_secret=abcdefgh&x=1", f"client_secret={REDACTED}&x=1"),
        # An order's own facts are not credentials.
        ("UPS 1Z999AA1012345678, ETA 2024-01-18", "UPS 1Z999AA1012345678, ETA 2024-01-18"),
    ],
)
def test_the_credential_shapes_monocle_knows_are_redacted(text, expected):
    """Monocle's own span obfuscation is off (ours covers every string of every span): its
    credential shapes are ours too."""
    assert redact(text) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "eyJ" + "a" * 40_000 + "." + "b" * 40_000,  # a JWT that never ends
        "-----BEGIN PRIVATE KEY-----" + "x\n" * 40_000,  # a key block that never ends
        "password:" * 20_000,
        ";" * 20_000 + "key" * 20_000,  # was cubic in the query-parameter pattern
        "!" * 40_000 + ":" + "x" * 40_000,  # was quadratic in the user:password@ pattern
        "a." * 40_000,  # was quadratic in the scheme:// pattern
        ("?key" * 20_000) + "=",
        "http://" + "u:" * 30_000 + "@",
    ],
)
def test_hostile_text_is_redacted_in_linear_time(hostile):
    """An 80 KB request path or chat message must not stall the process (redaction runs on
    the event loop for log records, and holds the GIL). Linear patterns take milliseconds;
    the backtracking ones took minutes: the bound is far from either."""
    import time

    start = time.perf_counter()
    redact(hostile)
    assert time.perf_counter() - start < 5


def test_a_secret_split_between_the_format_and_its_arguments_is_redacted(capsys):
    install_log_redaction()
    logger = logging.getLogger("redaction-test")
    logger.setLevel(logging.WARNING)
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        logger.warning("fetching %s?token=%s", "https://h/p", "abcdef123456")
        logger.warning("%s://%s:%s@%s", "https", "admin", "hunter2pass", "db.internal")
        logger.warning("bad format %d", "not a number")  # would print its arguments raw
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert "abcdef123456" not in err and "hunter2pass" not in err
    assert f"fetching https://h/p?token={REDACTED}" in err
    assert f"https://{REDACTED}@db.internal" in err
