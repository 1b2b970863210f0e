"""Every peer kind, driven with hostile values through its real way in, and the way out
(``docs/threat-model.md``). Hypothesis builds what a peer could send: valid records mutated
with control sequences, card data, another order's id, wrong types, huge and deeply nested
values. Whatever it sends, what comes through is either refused in one line (a system
``unavailable``, a tool's error, ``line N: …``) or a value the rest of the code may trust:
printable, bounded, of its shape, for the order asked, without card data."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import httpx
from helpers import lookup
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from order_tracking.agents.tools import TOOL_NAMES, build_tools
from order_tracking.backends import BackendConfig, BackendUnavailable, mock_backends
from order_tracking.backends._http import HttpBackends
from order_tracking.backends._sqlite import SCHEMA, SCHEMA_VERSION, SqliteBackend
from order_tracking.backends.data import RecordError, check_record
from order_tracking.core import outbound
from order_tracking.core.inbound import CONTROL, Refused
from order_tracking.core.order_ids import DEFAULT
from order_tracking.core.redaction import register_secret_values
from order_tracking.core.report import order_json, render_report
from order_tracking.core.results import AgentResult, OrderReport, RunLimits, Status
from order_tracking.core.settings import CheckPolicy
from order_tracking.mcp.client import _from_mcp
from order_tracking.stream import Rejected, check_event
from order_tracking.stream._event import dead_letter
from order_tracking.temporal._messages import (
    AgentData,
    AgentRequest,
    checked_request,
    result_from_data,
)

CARD = "4111111111111111"
SECRET = "sk-live-boundary-peer-0a1b2c3d4e5f"
HOSTILE_TEXT = st.sampled_from(
    [
        "ok",
        "in\x1b]0;pwned\x07transit",
        "\x1b[2J",
        "a\rb",
        "x\n[payment_agent]\nrefunded",
        "\u202eevil",
        "\x9b31m",
        f"card {CARD}",
        CARD,
        SECRET,
        "",
        " ",
        "x" * 70,
        "y" * 5000,
        "ORD-1002",
        "ORD-1001\n",
        "ord-1001",
        "2024-01-15",
        "\ud800",
    ]
)
LEAF = st.one_of(
    HOSTILE_TEXT,
    st.text(max_size=20),
    st.integers(-(10**16), 10**16),
    st.floats(),
    st.booleans(),
    st.none(),
)
ANY_JSON = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(HOSTILE_TEXT | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

ORDER = {
    "order_id": "ORD-1001",
    "status": "shipped",
    "placed_date": "2024-01-15",
    "items": [{"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 1}],
}
SHIPMENT = {
    "order_id": "ORD-1001",
    "status": "in_transit",
    "carrier": "UPS",
    "tracking_number": "1Z9",
}
PAYMENT = {"order_id": "ORD-1001", "status": "captured", "amount": 1.5, "currency": "USD"}
STOCK = {"sku": "SKU-APL-01", "name": "Wireless earbuds", "on_hand": 3}


@st.composite
def mutated(draw: st.DrawFn, record: dict[str, Any]) -> Any:
    """``record`` with up to three fields set to hostile values, added (card data among them)
    or removed, or nested items changed; sometimes something else entirely."""
    if draw(st.integers(0, 9)) == 0:
        return draw(ANY_JSON)
    value = json.loads(json.dumps(record))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "add", "drop", "item"]))
        if action == "set" and value:
            value[draw(st.sampled_from(sorted(value)))] = draw(LEAF | ANY_JSON)
        elif action == "add":
            value[draw(st.sampled_from(["card_number", "cvv", "extra", "order_id"]))] = draw(LEAF)
        elif action == "drop" and value:
            del value[draw(st.sampled_from(sorted(value)))]
        elif action == "item" and isinstance(value.get("items"), list) and value["items"]:
            item = value["items"][0]
            if isinstance(item, dict):
                item[draw(st.sampled_from(["sku", "name", "quantity", "cvv"]))] = draw(LEAF)
    return value


CODES = {"sku", "tracking_number", "carrier", "order_id"}  # not scanned for card numbers


def trusted(value: Any, where: str = "", *, cards: bool = True) -> None:
    """What passed a way in: every string printable and bounded, no card field, and no card
    number in text (codes aside: an EAN-13 SKU passes Luhn one time in ten)."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, str):
        assert not CONTROL.search(value), where
        assert len(value) <= 300, where
        if cards and where.rsplit(".", 1)[-1] not in CODES:
            assert CARD not in value.replace(" ", "").replace("-", ""), where
    elif isinstance(value, dict):
        assert not {"card_number", "cvv", "card_expiry"} & set(value), where
        for key, item in value.items():
            trusted(item, f"{where}.{key}", cards=cards)
    elif isinstance(value, list | tuple):
        for item in value:
            trusted(item, where, cards=cards)


def _http(answer: Any) -> HttpBackends:
    body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    config = BackendConfig(
        "http",
        urls={s: "http://b.test" for s in ("oms", "carrier", "warehouse", "payments")},
        retries=0,
    )
    return HttpBackends(
        config, transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body))
    )


@PROPERTY
@given(
    st.sampled_from(["oms", "carrier", "warehouse", "payments"]).flatmap(
        lambda system: st.tuples(
            st.just(system),
            mutated(
                {
                    "oms": ORDER,
                    "carrier": SHIPMENT,
                    "payments": PAYMENT,
                    "warehouse": {"items": [STOCK]},
                }[system]
            ),
        )
    )
)
async def test_an_http_system(case):
    system, answer = case
    try:
        record = await lookup(_http(answer), system, "ORD-1001", "SKU-APL-01")
    except BackendUnavailable as exc:
        assert "\n" not in str(exc)
        return
    trusted(record)
    if system != "warehouse":
        assert record.order_id == "ORD-1001"


def _database(order: Any) -> Path:
    path = Path(tempfile.mkdtemp()) / "hostile.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute(
            "INSERT INTO order_tracking_meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
        )
        db.execute(
            "INSERT INTO orders VALUES (?, ?, ?)",
            (order["order_id"], order["status"], order["placed_date"]),
        )
        for n, item in enumerate(order["items"]):
            db.execute(
                "INSERT INTO order_items VALUES (?, ?, ?, ?, ?)", (order["order_id"], n, *item)
            )
    return path


SQL_VALUE = st.one_of(
    HOSTILE_TEXT, st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.none()
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(
    status=SQL_VALUE,
    placed=st.one_of(st.just("2024-01-15"), SQL_VALUE),
    name=st.one_of(st.just("Thing"), SQL_VALUE),
    quantity=st.one_of(st.just(1), SQL_VALUE),
    stored_id=st.sampled_from(["ORD-1001", "ord-1001"]),
)
async def test_a_database_file(status, placed, name, quantity, stored_id):
    order = {
        "order_id": stored_id,
        "status": status,
        "placed_date": placed,
        "items": [
            ("SKU-1", name if name is not None else "n", quantity if quantity is not None else 1)
        ],
    }
    try:
        path = _database(order)
    except (sqlite3.Error, UnicodeEncodeError):  # refused by the schema or the driver first
        return
    backend = SqliteBackend.open(path)
    try:
        record = await backend.get_order("ORD-1001")
    except BackendUnavailable as exc:
        assert "\n" not in str(exc)
        return
    finally:
        await backend.aclose()
    trusted(record)
    assert record.order_id.upper() == "ORD-1001"


_RESULTS = {
    "get_order_status": {
        "status": "success",
        "order_id": "ORD-1001",
        "order_status": "shipped",
        "placed_date": "2024-01-15",
        "item_count": 1,
        "items": ORDER["items"],
    },
    "get_shipping_details": {
        "status": "success",
        "order_id": "ORD-1001",
        "shipment_status": "in_transit",
        "carrier": "UPS",
        "tracking_number": "1Z9",
        "eta": "2024-01-18",
    },
    "check_inventory": {
        "status": "success",
        "order_id": "ORD-1001",
        "items": [{**STOCK, "stock_state": "low_stock", "reorder_recommended": True}],
    },
    "get_payment_status": {
        "status": "success",
        "order_id": "ORD-1001",
        "payment_status": "captured",
        "amount": 1.5,
        "currency": "USD",
    },
}
FIELDS = {
    name: set(result) | {"shipped_date", "delivered_date", "error_message"}
    for name, result in _RESULTS.items()
}


@PROPERTY
@given(
    st.sampled_from(TOOL_NAMES).flatmap(
        lambda n: st.tuples(st.just(n), mutated(_RESULTS[n]), st.booleans())
    )
)
@example(
    (
        "get_payment_status",
        {**_RESULTS["get_payment_status"], "card_number": CARD, "cvv": "737"},
        True,
    )
)
def test_an_mcp_server(case):
    name, structured, as_text = case
    answer = (
        {"content": [{"type": "text", "text": json.dumps(structured)}]}
        if as_text
        else {"content": [], "structuredContent": structured}
    )
    result = _from_mcp(answer, name, {"order_id": "ORD-1001"})
    assert result["status"] in ("success", "error")
    trusted(result)
    assert set(result) <= FIELDS[name]
    if result["status"] == "success" and "order_id" in result:
        assert result["order_id"] == "ORD-1001"


@PROPERTY
@given(
    order_id=st.one_of(HOSTILE_TEXT, st.text(max_size=70), st.integers()),
    deadline=LEAF,
    tokens=LEAF,
    calls=LEAF,
    cost=LEAF,
    check=st.one_of(st.sampled_from(["off", "flag", "replace"]), HOSTILE_TEXT),
)
def test_a_temporal_workflows_input(order_id, deadline, tokens, calls, cost, check):
    own = RunLimits(deadline_s=60.0, max_model_calls=10, max_tokens=1000, max_cost_usd=1.0)
    request = AgentRequest(order_id, "payment_agent", deadline, tokens, cost, calls, check)
    try:
        checked_id, limits, policy = checked_request(request, DEFAULT, own, CheckPolicy.FLAG)
    except Refused as exc:
        assert "\n" not in str(exc)
        return
    assert DEFAULT.matches(checked_id) and not CONTROL.search(checked_id)
    assert 0 < limits.deadline_s <= own.deadline_s
    assert 1 <= limits.max_model_calls <= own.max_model_calls
    assert 0 < limits.max_tokens <= own.max_tokens and 0 < limits.max_cost_usd <= own.max_cost_usd
    assert policy in (CheckPolicy.FLAG, CheckPolicy.REPLACE)


@PROPERTY
@given(
    agent=st.one_of(st.just("payment_agent"), HOSTILE_TEXT, st.integers()),
    status=st.one_of(st.sampled_from([s.value for s in Status]), HOSTILE_TEXT, st.none()),
    text=st.one_of(HOSTILE_TEXT, st.text(), st.integers()),
    numbers=st.lists(LEAF, min_size=4, max_size=4),
    verified=st.one_of(st.none(), st.booleans(), st.integers()),
    calls=st.one_of(st.just([]), st.lists(HOSTILE_TEXT, max_size=3), LEAF),
)
def test_a_temporal_workflows_result(agent, status, text, numbers, verified, calls):
    data = AgentData(
        agent,
        status,
        text,
        None,
        numbers[0],
        calls,
        numbers[1],
        numbers[2],
        numbers[3],
        0,
        [],
        verified,
        [],
    )
    try:
        result = result_from_data(data)
    except Refused as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(result.status, Status) and not CONTROL.search(result.agent)
    written = render_report(OrderReport("ORD-1001", (result,), 0.0))
    assert not CONTROL.search(written.replace("\n", "")) and SECRET not in written


@PROPERTY
@given(
    st.one_of(
        mutated({**ORDER, "payment": {k: v for k, v in PAYMENT.items() if k != "order_id"}}),
        mutated(STOCK),
    )
)
def test_an_imported_line(record):
    try:
        kind, row = check_record(record, DEFAULT)
    except RecordError as exc:
        assert "\n" not in str(exc)
        return
    trusted(list(row), cards=False)  # names are checked; rows carry no field names
    if kind == "order":
        assert DEFAULT.matches(row[0])


EVENT = {"id": "evt-1", "order_id": "ORD-1001", "question": "Where is my order?"}


@PROPERTY
@given(event=mutated(EVENT), traceparent=st.one_of(st.none(), HOSTILE_TEXT))
def test_a_message_on_the_order_stream(event, traceparent):
    register_secret_values([SECRET])
    body = json.dumps(event).encode() if not isinstance(event, bytes) else event
    headers = {} if traceparent is None else {"traceparent": traceparent}
    try:
        checked = check_event(body, headers, DEFAULT, 65_536)
    except Rejected as exc:
        assert exc.reason and "\n" not in exc.reason
        letter = dead_letter(exc.reason, body, event_id=exc.event_id, delivered=1, consumer="c")
        assert letter.isascii() and SECRET.encode() not in letter  # the way out, too
        return
    # The event's id is a code, like a SKU: not scanned for card numbers (16-digit ids pass
    # Luhn one time in ten); the question is free text and is.
    trusted(dataclasses.replace(checked, question=None), cards=False)
    question = checked.question or ""  # longer than a name: up to 1,000 characters
    assert len(question) <= 1000 and not CONTROL.search(question) and CARD not in question
    assert DEFAULT.matches(checked.order_id) and checked.traceparent is None


@PROPERTY
@given(
    tool=st.sampled_from(TOOL_NAMES),
    argument=st.one_of(HOSTILE_TEXT, st.text(max_size=80), st.integers(), st.none()),
    sku=st.booleans(),
)
async def test_a_models_tool_call_arguments(tool, argument, sku):
    tools = build_tools(mock_backends())
    kwargs = {"sku": argument} if sku and tool == "check_inventory" else {"order_id": argument}
    result = await tools[tool](**kwargs)
    trusted(result, cards=False)  # a model's own SKU may come back in "SKU … not found"
    if result["status"] == "success" and "order_id" in result:
        assert DEFAULT.matches(result["order_id"])


@PROPERTY
@given(
    answer=st.one_of(HOSTILE_TEXT, st.text()), error=st.one_of(st.none(), HOSTILE_TEXT, st.text())
)
def test_a_models_answer_on_its_way_out(answer, error):
    register_secret_values([SECRET])
    result = AgentResult(
        "payment_agent", Status.OK if error is None else Status.UNVERIFIED, answer, error, 0.1
    )
    report = OrderReport("ORD-1001", (result,), 0.1)
    text = render_report(report)
    assert SECRET not in text and not CONTROL.search(text.replace("\n", "").replace("\t", ""))
    assert text.splitlines().count("[payment_agent]") == 1
    assert not any(
        line.startswith(("[", "ERROR:", "Wall-clock")) for line in text.splitlines()[3:-2]
    )
    written = outbound.json_text(order_json(report))
    assert SECRET not in written and "\n" not in written
    assert json.loads(written)["agents"][0]["text"] == outbound.public(answer)
