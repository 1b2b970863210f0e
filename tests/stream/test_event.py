"""Events as they enter: every message is from a stranger. Examples of each refusal, the
published schema agreeing with the check, and properties over any bytes."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_tracking.core.order_ids import OrderIdPattern
from order_tracking.core.redaction import REDACTED, register_secret_values
from order_tracking.core.results import AgentResult, OrderReport, Status
from order_tracking.core.settings import ConfigError, Settings
from order_tracking.stream import SCHEMA_PATH, Event, Rejected, check_event, new_event
from order_tracking.stream._brokers import check_topic
from order_tracking.stream._event import dead_letter, result_message

PATTERN = OrderIdPattern()
SCHEMA = json.loads(SCHEMA_PATH.read_text())
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def check(body: bytes, headers=None) -> Event:
    return check_event(body, headers or {}, PATTERN, 65536)


def valid(name: str, data) -> bool:
    schema = {k: v for k, v in SCHEMA.items() if k != "oneOf"} | {"$ref": f"#/$defs/{name}"}
    return jsonschema.Draft202012Validator(schema).is_valid(data)


def test_an_event_with_everything():
    body = b'{"id": "e-1", "order_id": "ord-1001", "question": "Where is my parcel?"}'
    assert check(body, {"traceparent": TRACEPARENT}) == Event(
        "e-1", "ORD-1001", "Where is my parcel?", TRACEPARENT
    )


@pytest.mark.parametrize(
    "traceparent",
    [
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "garbage\n",
    ],
)
def test_a_traceparent_that_is_not_w3c_is_ignored(traceparent):
    event = check(b'{"id": "e", "order_id": "ORD-1"}', {"traceparent": traceparent})
    assert event.traceparent is None


@pytest.mark.parametrize(
    "body, reason, event_id",
    [
        (b"", "not JSON", None),
        (b"{", "not JSON", None),
        (b'\xef\xbb\xbf{"id": "e", "order_id": "ORD-1"}', "not JSON", None),
        (b'{"id": "", "order_id": "ORD-1"}', "id must be 1 to 128 characters", None),
        (b'{"id": "' + b"a" * 129 + b'", "order_id": "ORD-1"}', "1 to 128", None),
        (b'{"id": "a b", "order_id": "ORD-1"}', "printable ASCII without spaces", None),
        (b'{"id": "e\\u00e9", "order_id": "ORD-1"}', "printable ASCII", None),
        (b'{"id": null, "order_id": "ORD-1"}', "got null", None),
        (b'{"id": true, "order_id": "ORD-1"}', "got true/false", None),
        (b'{"id": "e", "order_id": " ORD-1"}', "order_id: must be printable ASCII", "e"),
        (b'{"id": "e", "order_id": "ORD-X"}', "invalid order id", "e"),
        (b'{"id": "e", "order_id": "ORD-1", "question": ""}', "question must be 1", "e"),
        (b'{"id": "e", "order_id": "ORD-1", "question": "a\\nb"}', "control characters", "e"),
        (b'{"id": "e", "order_id": "ORD-1", "question": "\\u202eevil"}', "control characters", "e"),
        (b'{"id": "e", "order_id": "ORD-1", "question": "a\\u200bb"}', "printable text", "e"),
        (  # card data never reaches a prompt, from any way in
            b'{"id": "e", "order_id": "ORD-1", "question": "pay with 4111 1111 1111 1111"}',
            "question: holds a card number",
            "e",
        ),
        (b'{"id": "e", "order_id": "ORD-1", "question": 3}', "got a number", "e"),
        (b"1e999", "got a number", None),
        (b"Infinity", "not a JSON number", None),
    ],
)
def test_refusals_say_why(body, reason, event_id):
    with pytest.raises(Rejected, match=None) as caught:
        check(body)
    assert reason in caught.value.reason
    assert caught.value.event_id == event_id


def test_the_size_bound_comes_before_decoding():
    with pytest.raises(Rejected, match="more than 100"):
        check_event(b"[" * 101, {}, PATTERN, 100)


def test_a_configured_pattern_is_used():
    pattern = OrderIdPattern(r"#W[0-9]{7}")
    assert (
        check_event(b'{"id": "e", "order_id": "#W2611340"}', {}, pattern, 999).order_id
        == "#W2611340"
    )
    with pytest.raises(Rejected, match="ORDER_ID_PATTERN"):
        check_event(b'{"id": "e", "order_id": "ORD-1001"}', {}, pattern, 999)


@given(st.binary(max_size=300))
def test_any_bytes_are_an_event_or_a_reason(body):
    try:
        event = check(body)
    except Rejected as exc:
        assert exc.reason and "\n" not in exc.reason and len(exc.reason) < 400
        return
    assert valid("event", json.loads(body))
    assert PATTERN.parse(event.order_id) == event.order_id


@given(
    st.dictionaries(
        st.sampled_from(["id", "order_id", "question", "other"]),
        st.one_of(
            st.text(max_size=20), st.integers(), st.none(), st.lists(st.integers(), max_size=2)
        ),
    )
)
def test_the_schema_and_the_check_agree(data):
    """What the published schema allows, the check takes, bar what the schema cannot say (the
    order id pattern, printable question text); what it refuses, the check refuses."""
    body = json.dumps(data).encode()
    try:
        check(body)
        accepted = True
    except Rejected:
        accepted = False
    if accepted:
        assert valid("event", data)
    elif valid("event", data):
        question = data.get("question")
        assert not PATTERN_ok(data["order_id"]) or (
            question is not None and not question.isprintable()
        )


def PATTERN_ok(raw: str) -> bool:
    try:
        PATTERN.parse(raw, strip=False)
    except ValueError:
        return False
    return True


@given(st.binary(max_size=5000), st.one_of(st.none(), st.text(max_size=10)))
def test_a_dead_letter_is_ascii_json_of_bounded_size(body, event_id):
    letter = dead_letter("why", body, event_id=event_id, delivered=1, consumer="c")
    assert letter.isascii() and len(letter) < 2048 * 6 + 400
    data = json.loads(letter)
    assert data["payload_bytes"] == len(body) and data["truncated"] == (len(body) > 2048)


def test_results_and_new_events_match_the_schema():
    event_id, body = new_event("ORD-1001", "Where?")
    assert valid("event", json.loads(body)) and event_id != new_event("ORD-1001")[0]
    event = check(body)
    result = AgentResult("order_status_agent", Status.OK, "Status: shipped", None, 0.1)
    out = json.loads(result_message(event, OrderReport("ORD-1001", (result,), 0.2)))
    assert valid("result", out) and out["event_id"] == event_id and out["question"] == "Where?"
    letter = json.loads(dead_letter("no id", b"{}", event_id=None, delivered=2, consumer="c"))
    assert valid("dead_letter", letter)


def test_what_goes_back_on_the_stream_passes_the_way_out():
    """A secret a peer echoes (in a message quoted by its dead letter, in an agent's answer)
    is redacted; what a terminal acts on is escaped in the result."""
    secret = "sk-live-stream-echo-0123456789abcdef"
    register_secret_values([secret])
    body = b'{"id": "e", "order_id": "' + secret.encode() + b'"}'
    letter = dead_letter("why", body, event_id="e", delivered=1, consumer="c")
    assert secret.encode() not in letter and REDACTED in json.loads(letter)["payload"]
    event = check(b'{"id": "e", "order_id": "ORD-1001"}')
    answer = f"Your key is {secret}.\x1b]0;pwned\x07\u202e"
    result = AgentResult("order_status_agent", Status.OK, answer, None, 0.1)
    out = result_message(event, OrderReport("ORD-1001", (result,), 0.2))
    assert secret.encode() not in out and b"\x1b" not in out and "\u202e".encode() not in out
    assert REDACTED in json.loads(out)["agents"][0]["text"]


@pytest.mark.parametrize("name", ["orders", "orders.results", "a_b-c.d", "x" * 200])
def test_topics_every_broker_takes(name):
    assert check_topic(name, "--topic") == name


@pytest.mark.parametrize("name", ["", ".x", "-x", "a..b", "a.", "a b", "a*", "a>", "x" * 201, "é"])
def test_topics_refused(name):
    with pytest.raises(ValueError, match="--topic must be"):
        check_topic(name, "--topic")


def test_broker_url_setting():
    assert (
        Settings.from_env({"BROKER_URL": " nats://127.0.0.1:4222 "}).broker_url
        == "nats://127.0.0.1:4222"
    )
    assert Settings.from_env({}).broker_url is None
    for bad in (
        "http://x",
        "nats://",
        "nats://h:0",
        "nats://h:port",
        "redis://h x",
        "kafka://h\x00",
    ):
        with pytest.raises(ConfigError, match="BROKER_URL must be a broker URL"):
            Settings.from_env({"BROKER_URL": bad})
