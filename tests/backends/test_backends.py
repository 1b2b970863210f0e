"""The data sources end to end: the article's orders answer the same from every source; the
HTTP client's retries, breaker, contract checks and card-data filter; faults between client
and reference server; the settings that choose a source."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest
from backend_servers import closed_port_url
from helpers import (
    BACKEND_SOURCES,
    EXPECTED_BODY,
    FOOTER,
    REPO_ROOT,
    backend_setting,
    load_trace,
    lookup,
    run_cli,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_tracking.backends import BackendConfig, BackendUnavailable, mock_backends
from order_tracking.backends._http import HttpBackends
from order_tracking.core.order_ids import OrderIdPattern
from order_tracking.core.settings import ConfigError, Settings
from order_tracking.http.backend_api import create_backends_app

SYSTEMS = ("oms", "carrier", "warehouse", "payments")


def _json_report(out: str) -> dict:
    (line,) = out.splitlines()
    return json.loads(line)


@pytest.mark.parametrize("source", BACKEND_SOURCES)
def test_the_article_output_from_every_source(
    source, capsys, cli_env, monkeypatch, article_db, reference_api
):
    monkeypatch.setenv("ORDER_BACKEND", backend_setting(source, article_db, reference_api))
    code, out, _ = run_cli(capsys, "ORD-1001")
    assert code == 0
    assert out.startswith(EXPECTED_BODY)
    assert FOOTER.fullmatch(out[len(EXPECTED_BODY) :])


@pytest.mark.parametrize("order_id", ["ORD-1002", "ORD-1003", "ORD-9999"])
def test_every_article_order_answers_the_same_from_every_source(
    order_id, capsys, cli_env, monkeypatch, article_db, reference_api
):
    answers = {}
    for source in BACKEND_SOURCES:
        monkeypatch.setenv("ORDER_BACKEND", backend_setting(source, article_db, reference_api))
        code, out, _ = run_cli(capsys, order_id, "--json")
        assert code == 0
        answers[source] = [
            (a["agent"], a["status"], a["text"], a["verified"]) for a in _json_report(out)["agents"]
        ]
        assert all(verified for *_, verified in answers[source])
    assert answers["sqlite"] == answers["mock"] == answers["http"]


# --- Faults between the client and the reference server ----------------------------------

FAULTS = ["500", "429", "hang", "reset", "malformed", "404", "refused"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_carrier_leaves_the_other_answers_intact(
    fault, capsys, cli_env, monkeypatch, reference_api, fault_api
):
    monkeypatch.setenv("ORDER_BACKEND", reference_api)
    url = closed_port_url() if fault == "refused" else fault_api.url(fault)
    monkeypatch.setenv("CARRIER_API_URL", url)
    # One timeout for all four systems: short enough that a hung carrier is given up in time,
    # long enough that the healthy three answer on a machine busy with the other worker.
    monkeypatch.setenv("BACKEND_TIMEOUT_S", "2")
    monkeypatch.setenv("BACKEND_RETRIES", "1")
    monkeypatch.setenv("AGENT_TIMEOUT_S", "20")
    code, out, _ = run_cli(capsys, "ORD-1001", "--json")
    assert code == 1  # and no agent timed out: every one ended within its deadline
    report = _json_report(out)
    agents = {a["agent"]: a for a in report["agents"]}
    for name in ("order_status_agent", "inventory_agent", "payment_agent"):
        assert agents[name]["status"] == "ok", agents[name]
    for name in ("shipping_agent", "support_agent"):
        assert agents[name]["status"] == "unavailable"
        assert agents[name]["error"] == "no answer from the carrier system"
    assert agents["shipping_agent"]["text"].startswith("The carrier system is unavailable (")
    assert "Payment of $299.99 confirmed." in agents["support_agent"]["text"]
    spans = load_trace(report["trace_file"])
    calls = [s for s in spans if s["name"] == "backend.http"]
    by_id = {s["context"]["span_id"]: s for s in spans}
    assert calls and all("run_async" in by_id[s["parent_id"]]["name"] for s in calls)
    carrier = [s["attributes"] for s in calls if s["attributes"]["backend.system"] == "carrier"]
    assert carrier and all(a["url.path"] == "/carrier/shipments/ORD-1001" for a in carrier)
    retried = fault in ("500", "429", "hang", "reset", "refused")
    assert all(a["backend.retries"] == (1 if retried else 0) for a in carrier)


def test_a_429_with_retry_after_is_waited_out_and_answered(
    capsys, cli_env, monkeypatch, reference_api, fault_api
):
    fault_api.reset()
    monkeypatch.setenv("ORDER_BACKEND", reference_api)
    monkeypatch.setenv("CARRIER_API_URL", fault_api.url("flaky429"))
    code, out, _ = run_cli(capsys, "ORD-1001")
    assert code == 0 and out.startswith(EXPECTED_BODY)
    assert fault_api.count("flaky429") >= 2  # the 429 and its retry (the wait: a unit test)


# --- The client on its own (fakes passed in: httpx.MockTransport) -----------------------


def _client(handler, **options) -> HttpBackends:
    config = BackendConfig(
        "http",
        urls={s: "http://backend.test" for s in SYSTEMS},
        api_key=options.pop("api_key", ""),
        retries=options.pop("retries", 2),
        timeout_s=1,
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = HttpBackends(
        config,
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        rng=random.Random(0),
        **options,
    )
    client.waits = waits
    return client


async def test_retries_5xx_and_429_honouring_retry_after_but_never_4xx():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(503, headers={"Retry-After": "2"})
        if len(calls) == 2:
            return httpx.Response(502)
        return httpx.Response(
            200, json={"order_id": "ORD-1", "status": "captured", "amount": 5, "currency": "EUR"}
        )

    client = _client(handler)
    payment = await client.payments.get_payment("ORD-1")
    assert (payment.status, payment.amount, payment.currency) == ("captured", 5.0, "EUR")
    assert len(calls) == 3
    assert client.waits[0] == 2.0 and 0 <= client.waits[1] <= 0.4  # Retry-After, then jitter

    refused = _client(lambda request: httpx.Response(400, json={"detail": "bad"}))
    with pytest.raises(BackendUnavailable, match="payment gateway system is unavailable"):
        await refused.payments.get_payment("ORD-1")
    assert refused.waits == []


async def test_a_404_is_not_found_only_when_the_contract_says_so():
    found = _client(lambda r: httpx.Response(404, json={"detail": "x", "code": "not_found"}))
    assert await found.oms.get_order("ORD-1") is None
    wrong_url = _client(lambda r: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(BackendUnavailable, match="not an answer of the contract"):
        await wrong_url.oms.get_order("ORD-1")


async def test_the_key_is_sent_and_ids_are_escaped_in_the_path():
    seen = []

    def handler(request):
        seen.append((request.headers.get("authorization"), request.url.raw_path))
        return httpx.Response(404, json={"code": "not_found", "detail": "none"})

    client = _client(handler, api_key="k" * 20)
    await client.oms.get_order("#W2/../x")
    await client.oms.get_order("..")  # never a step up to another route
    assert seen == [
        (f"Bearer {'k' * 20}", b"/oms/orders/%23W2%2F%2E%2E%2Fx"),
        (f"Bearer {'k' * 20}", b"/oms/orders/%2E%2E"),
    ]


async def test_the_breaker_opens_per_system_after_failed_calls_not_attempts():
    changes = []
    calls = []

    def handler(request):
        calls.append(request.url.path)
        return httpx.Response(500)

    client = _client(
        handler, retries=1, circuit_threshold=2, on_circuit_change=lambda *c: changes.append(c)
    )
    for _ in range(2):  # two calls of two attempts each
        with pytest.raises(BackendUnavailable, match="HTTP 500 after 2 attempts"):
            await client.carrier.get_shipment("ORD-1")
    with pytest.raises(BackendUnavailable, match="circuit open"):
        await client.carrier.get_shipment("ORD-1")
    assert len(calls) == 4  # the third call never reached the system
    assert changes == [("carrier", "closed", "open")]
    # Another system's circuit is its own.
    with pytest.raises(BackendUnavailable, match="HTTP 500"):
        await client.oms.get_order("ORD-1")


class _Trickle(httpx.AsyncByteStream):
    """A body sent a byte at a time, slowly: each read is quick, the whole is not."""

    async def __aiter__(self):
        for byte in b'{"order_id": "ORD-1", "status": "s", "placed_date": "d", "items": []}':
            await asyncio.sleep(0.05)
            yield bytes([byte])


async def test_the_timeout_bounds_the_whole_call_however_the_bytes_arrive():
    client = _client(lambda r: httpx.Response(200, stream=_Trickle()), retries=0)
    client.timeout_s = 0.3
    with pytest.raises(BackendUnavailable, match=r"no answer within 0\.3s"):
        await client.oms.get_order("ORD-1")


async def test_a_retry_after_past_the_agents_deadline_is_not_waited_for():
    from order_tracking.models.resilience import RunUsage, bind_usage

    client = _client(lambda r: httpx.Response(429, headers={"Retry-After": "20"}))
    usage = RunUsage()
    usage.start_deadline(5.0)
    with bind_usage(usage), pytest.raises(BackendUnavailable, match="HTTP 429"):
        await client.payments.get_payment("ORD-1")
    assert client.waits == []  # it failed at once instead of sleeping past the deadline


HOSTILE = {
    "gzip-lie": (b"not gzip", {"Content-Encoding": "gzip"}),
    "deep": (b"[" * 200_000, {}),
    "huge-number": (
        b'{"order_id": "O", "status": "s", "amount": 1' + b"0" * 400 + b', "currency": "USD"}',
        {},
    ),
    "too-large": (b"{" + b" " * (2 << 20) + b"}", {}),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
async def test_hostile_answers_are_the_system_failing_never_a_crash(hostile):
    body, headers = HOSTILE[hostile]
    client = _client(
        lambda r: httpx.Response(200, headers=headers, stream=httpx.ByteStream(body)), retries=0
    )
    with pytest.raises(BackendUnavailable):
        await client.payments.get_payment("ORD-1")


async def test_card_data_from_the_gateway_is_dropped_by_the_adapter():
    body = {
        "order_id": "ORD-1",
        "status": "captured",
        "amount": 1.5,
        "currency": "USD",
        "card_number": "4111111111111111",
        "card_expiry": "12/27",
        "cvv": "123",
    }
    client = _client(lambda r: httpx.Response(200, json=body))
    payment = await client.payments.get_payment("ORD-1")
    assert "4111" not in repr(payment) and "12/27" not in repr(payment)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
RECORD_KEYS = [
    "order_id",
    "status",
    "placed_date",
    "items",
    "sku",
    "name",
    "quantity",
    "carrier",
    "amount",
    "currency",
    "on_hand",
    "code",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        JSON,
        st.dictionaries(st.sampled_from(RECORD_KEYS), JSON, max_size=8),
        st.binary(max_size=64),
    ),
    status=st.sampled_from([200, 404]),
    system=st.sampled_from(SYSTEMS),
)
async def test_any_answer_is_a_record_none_or_unavailable_never_a_crash(body, status, system):
    def handler(request):
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, content=json.dumps(body).encode())

    client = _client(handler, retries=0)
    try:
        await lookup(client, system, "ORD-1", "SKU-1")
    except BackendUnavailable as exc:
        assert "\n" not in str(exc)


# --- The reference server and the contract ---------------------------------------------


async def test_the_reference_server_wants_the_key_when_it_has_one():
    app = create_backends_app(mock_backends(), api_keys=("s" * 20,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        assert (await c.get("/oms/orders/ORD-1001")).status_code == 401
        ok = await c.get("/oms/orders/ORD-1001", headers={"Authorization": f"Bearer {'s' * 20}"})
        assert ok.json()["status"] == "shipped"
        assert (await c.get("/health")).status_code == 200
        payment = await c.get("/payments/ORD-1001", headers={"X-API-Key": "s" * 20})
        assert "card" not in payment.text


def test_the_published_openapi_document_is_the_servers():
    published = json.loads((REPO_ROOT / "docs" / "backends.openapi.json").read_text())
    assert published == create_backends_app(mock_backends()).openapi(), (
        "regenerate docs/backends.openapi.json: "
        "uv run python -m order_tracking.http.backend_api > docs/backends.openapi.json"
    )


def test_backends_serve_refuses_to_listen_beyond_loopback_without_a_key(capsys):
    code, _, err = run_cli(capsys, "backends", "serve", "--host", "0.0.0.0", "--port", "0")
    assert code == 2
    assert err == (
        "track-order: error: refusing to serve on 0.0.0.0:0 without authentication: set "
        "BACKEND_API_KEY (or pass --insecure to serve anyway)\n"
    )


def test_backends_serve_names_a_missing_database(capsys, tmp_path):
    code, _, err = run_cli(capsys, "backends", "serve", "--data", f"sqlite:///{tmp_path}/none.db")
    assert code == 2
    assert err.startswith(f"track-order: error: --data: no database at {tmp_path}/none.db;")


# --- Settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ORDER_BACKEND": "postgres://x"}, "ORDER_BACKEND must be mock, sqlite:///PATH or http"),
        ({"ORDER_BACKEND": "http://u:p@host:1"}, "ORDER_BACKEND must not hold credentials"),
        ({"ORDER_BACKEND": "http://host:99999"}, "ORDER_BACKEND has an invalid port"),
        ({"CARRIER_API_URL": "http://h:1"}, "set ORDER_BACKEND=http://HOST:PORT or OMS_API_URL"),
        ({"ORDER_BACKEND": "mock", "CARRIER_API_URL": "http://h:1"}, "CARRIER_API_URL needs"),
        ({"BACKEND_TIMEOUT_S": "0"}, "BACKEND_TIMEOUT_S must be greater than 0"),
        ({"ORDER_ID_PATTERN": "("}, "ORDER_ID_PATTERN is not a regular expression"),
        ({"ORDER_ID_PATTERN": "x*"}, "ORDER_ID_PATTERN matches an empty id"),
    ],
)
def test_a_bad_backend_setting_is_one_line_and_exit_2(env, message, capsys, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace("*", r"\*")):
        Settings.from_env()
    code, out, err = run_cli(capsys, "ORD-1001")
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: " + message) and err.count("\n") == 1


def test_per_system_urls_override_the_base():
    config = Settings.from_env(
        {"ORDER_BACKEND": "http://a:1/", "CARRIER_API_URL": "https://c:2/v1", "SHIPPING_MODEL": "x"}
    ).backend
    assert dict(config.urls) == {
        "oms": "http://a:1",
        "carrier": "https://c:2/v1",
        "warehouse": "http://a:1",
        "payments": "http://a:1",
    }


def test_a_missing_database_is_one_line_and_exit_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ORDER_BACKEND", f"sqlite:///{tmp_path}/none.db")
    code, _, err = run_cli(capsys, "ORD-1001")
    assert code == 2
    assert err == (
        f"track-order: error: ORDER_BACKEND: no database at {tmp_path}/none.db; create one "
        f"with `track-order data import FILE.jsonl --db {tmp_path}/none.db`\n"
    )


def test_a_configured_id_pattern_end_to_end(capsys, cli_env, monkeypatch, tmp_path):
    lines = [
        {"sku": "SKU-1", "name": "Lamp", "on_hand": 4},
        {
            "order_id": "#W2611340",
            "status": "pending",
            "placed_date": "2024-03-01",
            "items": [{"sku": "SKU-1", "name": "Lamp", "quantity": 1}],
            "payment": {"status": "authorized", "amount": 20, "currency": "USD"},
        },
    ]
    source = tmp_path / "orders.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines))
    monkeypatch.setenv("ORDER_ID_PATTERN", r"#W[0-9]{7}")
    db = tmp_path / "o.db"
    assert run_cli(capsys, "data", "import", str(source), "--db", str(db))[0] == 0
    monkeypatch.setenv("ORDER_BACKEND", f"sqlite:///{db}")
    code, out, _ = run_cli(capsys, "#W2611340", "--json")
    agents = {a["agent"]: a for a in _json_report(out)["agents"]}
    assert agents["order_status_agent"]["text"] == "Status: pending | Items: 1 | Placed: 2024-03-01"
    assert agents["inventory_agent"]["text"] == "SKU-1: 4 units — reorder recommended"
    code, out, err = run_cli(capsys, "ORD-1001")
    assert code == 2
    assert err == (
        "track-order: error: invalid order id 'ORD-1001': expected an id matching "
        "ORDER_ID_PATTERN '#W[0-9]{7}'\n"
    )


# --- Real data's statuses -------------------------------------------------------------------

# (order status, shipment status, payment status) -> what the support answer must say.
KINDS = {
    ("processing", None, "authorized"): ["is being prepared", "is authorized"],
    ("pending", None, "authorized"): ["is pending", "is authorized"],
    ("pending", None, "failed"): ["is pending", "did not go through"],
    ("shipped", "in_transit", "captured"): ["has shipped via", "confirmed"],
    ("shipped", "out_for_delivery", "captured"): ["has shipped via", "out for delivery now"],
    ("delivered", "delivered", "captured"): ["was delivered by", "confirmed"],
    ("cancelled", None, "refunded"): ["was cancelled", "was refunded"],
    ("returned", "delivered", "refunded"): ["was returned", "was delivered by", "was refunded"],
}


async def test_every_kind_of_generated_order_is_answered_with_its_statuses():
    from order_tracking import composition
    from order_tracking.backends.data import generate
    from order_tracking.core.settings import OFFLINE_MODEL

    records = [json.loads(line) for line in generate(3000, seed=5)]
    stock = [r for r in records if "sku" in r]
    by_kind: dict = {}
    for r in records:
        if "order_id" in r:
            kind = (r["status"], (r.get("shipment") or {}).get("status"), r["payment"]["status"])
            by_kind.setdefault(kind, r)
    assert set(by_kind) == set(KINDS)  # the generator's mix, every kind of it
    app = composition.build(
        Settings(default_model=OFFLINE_MODEL),
        backends=mock_backends([*by_kind.values()], stock),
        traced=False,
    )
    for kind, record in by_kind.items():
        report = await app.track_order(record["order_id"])
        answers = {r.agent: r for r in report.results}
        # ... and each answer verified against its tool results (the check does not cry wolf).
        assert all(r.status == "ok" and r.verified for r in report.results), (kind, report)
        assert answers["order_status_agent"].text.startswith(f"Status: {kind[0]} |")
        assert answers["payment_agent"].text.startswith(f"Status: {kind[2]} |")
        if kind[1] == "out_for_delivery":
            assert "Out for delivery, ETA: " in answers["shipping_agent"].text
        for phrase in KINDS[kind]:
            assert phrase in answers["support_agent"].text, (kind, answers["support_agent"].text)


def test_the_backend_key_is_redacted_like_the_other_secrets(monkeypatch):
    from order_tracking.composition import configure_process
    from order_tracking.core.redaction import REDACTED, redact

    key = "bk-" + "7" * 30
    monkeypatch.setenv("BACKEND_API_KEY", key)
    monkeypatch.setenv("ORDER_BACKEND", "http://127.0.0.1:9")
    assert configure_process().backend.api_key == key
    assert redact(f"401 for Bearer {key}") == f"401 for Bearer {REDACTED}"


def test_the_key_is_kept_for_every_kind_of_source():
    # `backends serve` over mock or SQLite wants BACKEND_API_KEY when it is set.
    for source in ("", "mock", "sqlite:///x.db"):
        env = {"ORDER_BACKEND": source, "BACKEND_API_KEY": "b" * 20, "SHIPPING_MODEL": "x"}
        assert Settings.from_env(env).backend.api_key == "b" * 20


async def test_ids_are_stored_spellings_and_may_hold_a_slash_over_http():
    records = [
        {
            "order_id": "ab/1",
            "status": "pending",
            "placed_date": "2024-01-01",
            "items": [{"sku": "S", "name": "s", "quantity": 1}],
            "payment": {"status": "authorized", "amount": 1, "currency": "USD"},
        }
    ]
    pattern = OrderIdPattern("[a-z]{2}/[0-9]")  # as written, case-sensitively
    app = create_backends_app(mock_backends(records, order_ids=pattern))
    client = _client(None, order_ids=pattern)
    client._transport = httpx.ASGITransport(app)
    order = await client.oms.get_order("AB/1")
    payment = await client.payments.get_payment("AB/1")
    assert (order.order_id, payment.order_id) == ("ab/1", "ab/1")


# --- Records from a stranger's system or file (issue 22) ------------------------------------

_ORDER_BODY = {
    "order_id": "ORD-1",
    "status": "shipped",
    "placed_date": "2024-01-01",
    "items": [{"sku": "SKU-1", "name": "Thing", "quantity": 1}],
}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"status": "in\u001b[2Jtransit"}, "status: has control characters"),
        ({"items": [{"sku": "S", "name": "Ear\u001b]0;x\u0007buds", "quantity": 1}]}, "has control"),
        ({"items": [{"sku": "S", "name": "4111 1111 1111 1111", "quantity": 1}]}, "card number"),
        ({"order_id": "ORD-2"}, "order_id: the answer is for another order"),
        ({"order_id": "ORD-1\n"}, "order_id: has control characters"),
        ({"placed_date": "yesterday"}, "placed_date: must be a date"),
        ({"status": "s" * 65}, "status: longer than 64 characters"),
    ],
)
async def test_a_record_that_does_not_fit_is_the_system_failing(change, reason):
    client = _client(lambda r: httpx.Response(200, json={**_ORDER_BODY, **change}), retries=0)
    with pytest.raises(BackendUnavailable, match=reason):
        await client.oms.get_order("ORD-1")


async def test_a_duplicate_field_in_an_answer_is_refused():
    body = b'{"order_id":"ORD-1","status":"captured","amount":1,"amount":999,"currency":"USD"}'
    client = _client(lambda r: httpx.Response(200, content=body), retries=0)
    with pytest.raises(BackendUnavailable, match="amount: the field appears twice"):
        await client.payments.get_payment("ORD-1")


async def test_stock_for_a_sku_not_asked_for_is_refused():
    body = {"items": [{"sku": "SKU-9", "name": "Other", "on_hand": 1}]}
    client = _client(lambda r: httpx.Response(200, json=body), retries=0)
    with pytest.raises(BackendUnavailable, match="a SKU that was not asked for"):
        await client.warehouse.get_stock(["SKU-1"])


async def test_stock_given_twice_for_one_sku_is_refused():
    """Asked for two SKUs, a system answered the first twice (``SKU-1`` 5 and ``sku-1`` 0):
    the second silently won, and the other SKU was "not stocked"."""
    body = {
        "items": [
            {"sku": "SKU-1", "name": "One", "on_hand": 5},
            {"sku": "sku-1", "name": "One", "on_hand": 0},
        ]
    }
    client = _client(lambda r: httpx.Response(200, json=body), retries=0)
    with pytest.raises(BackendUnavailable, match="a SKU twice"):
        await client.warehouse.get_stock(["SKU-1", "SKU-2"])


async def test_a_database_row_that_does_not_fit_is_the_system_failing(article_db, tmp_path):
    """A database file is a peer too: one written by hand (or by another program) with a
    control sequence in a status, a card number in a name, is refused like an HTTP answer."""
    import shutil
    import sqlite3

    from order_tracking.backends._sqlite import SqliteBackend

    db = tmp_path / "edited.db"
    shutil.copy(article_db, db)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE orders SET status = 'shipped\x1b[2J' WHERE order_id = 'ORD-1001'")
        connection.execute(
            "UPDATE order_items SET name = 'card 4111111111111111' WHERE order_id = 'ORD-1002'"
        )
    backend = SqliteBackend.open(db)
    try:
        for order_id, reason in [("ORD-1001", "status: has control"), ("ORD-1002", "card number")]:
            with pytest.raises(BackendUnavailable, match=reason):
                await backend.get_order(order_id)
        assert (await backend.get_order("ord-1003")).order_id == "ORD-1003"
    finally:
        await backend.aclose()
