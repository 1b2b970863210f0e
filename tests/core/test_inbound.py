"""The way in (``core/inbound.py``): each primitive on examples and on anything Hypothesis can
make of a peer's value. Each way in that uses them is tested with its own peer in its wing, and
all of them together in ``tests/test_boundary.py``."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from order_tracking.core import inbound
from order_tracking.core.inbound import CONTROL, Refused
from order_tracking.core.order_ids import DEFAULT, OrderIdPattern

CARD = "4111111111111111"  # a test card number: Luhn-valid


@pytest.mark.parametrize(
    "value",
    [
        "Wireless\x1b]0;pwned\x07earbuds",  # sets the terminal's title
        "in\x1b[2Jtransit",  # clears the screen
        "shipped\rdelivered",  # overwrites the line
        "bell\x07",
        "two\nlines",
        "c1\x9bcontrol",
        "right\u202eto-left",
        "line\u2028separator",
    ],
)
def test_a_control_character_in_a_peers_text_is_refused(value):
    with pytest.raises(Refused, match="name: has control characters"):
        inbound.text(value, "name")


@pytest.mark.parametrize(
    "value", [CARD, f"card {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}", "4111-1111-1111-1111"]
)
def test_a_card_number_in_free_text_is_refused(value):
    with pytest.raises(Refused, match="holds a card number"):
        inbound.text(value, "name")


@pytest.mark.parametrize(
    "value",
    [
        "4111.1111.1111.1111",
        "card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 "
        "\uff11\uff11\uff11\uff11",  # full-width digits: a card number on any screen
        "".join(chr(0x0660 + int(d)) for d in CARD),  # Arabic-Indic digits
    ],
)
def test_a_card_number_written_otherwise_is_refused_too(value):
    """Dots between the groups, or digits of another width or script, hid a card number."""
    with pytest.raises(Refused, match="holds a card number"):
        inbound.text(value, "name")


def test_numbers_that_are_not_card_numbers_pass():
    assert inbound.text("Order 4111111111111112 ref", "name")  # fails Luhn
    assert inbound.text("771234567890", "name")  # 12 digits: a FedEx tracking number
    # Codes are not scanned: an EAN-13 SKU or a 15-digit tracking number may pass Luhn.
    assert inbound.code(CARD, "sku") == CARD


def test_an_id_is_rechecked_and_never_mended():
    assert inbound.order_id("ord-1001", DEFAULT) == "ORD-1001"
    for raw in ["ORD-1001\n", " ORD-1001", "ORD-1001\x1b[2J", "ORD-12a", 1001]:
        with pytest.raises(Refused):
            inbound.order_id(raw, DEFAULT)
    with pytest.raises(Refused, match="for another order"):
        inbound.record_id("ORD-1002", DEFAULT, "ORD-1001")
    # One rule: ids name one order whatever their case.
    pattern = OrderIdPattern("[A-Za-z]{2}-[0-9]+")
    assert inbound.record_id("ab-1", pattern, "AB-1") == "ab-1"


def test_fields_drops_what_a_record_does_not_have_or_refuses_it_when_strict():
    payment = {"status": "captured", "amount": 1, "currency": "USD", "card_number": CARD}
    assert "card_number" not in inbound.fields(payment, "", ("status", "amount", "currency"))
    with pytest.raises(Refused, match=r"^payment\.card_number: unknown field$"):
        inbound.fields(payment, "payment", ("status", "amount", "currency"), strict=True)
    # A field name with a line break is quoted on one line.
    with pytest.raises(Refused) as refused:
        inbound.fields({"na\nme": 1}, "", ("name",), strict=True)
    assert "\n" not in str(refused.value)


def test_json_from_a_peer_refuses_duplicate_keys_depth_and_size():
    with pytest.raises(Refused, match="status: the field appears twice"):
        inbound.loads('{"status": "a", "status": "b"}')
    with pytest.raises(Refused, match=r"not JSON \(nested too deep\)"):
        inbound.loads("[" * 100_000)
    with pytest.raises(Refused, match="nested deeper than 16 levels"):
        inbound.loads("[" * 17 + "]" * 17)
    with pytest.raises(Refused, match="larger than"):
        inbound.loads(" " * (inbound.MAX_BYTES + 1))


def test_bounded_walks_without_recursion():
    deep: list = []
    for _ in range(200_000):  # far past Python's recursion limit
        deep = [deep]
    with pytest.raises(Refused, match="nested deeper"):
        inbound.bounded(deep)
    with pytest.raises(Refused, match="larger than"):
        inbound.bounded({"text": "x" * (inbound.MAX_BYTES + 1)})


@pytest.mark.parametrize(
    "own, asked, zero_is_unlimited, expected",
    [
        (60.0, 86_400, False, 60.0),  # a request may not loosen a limit
        (60.0, 5, False, 5.0),  # it may tighten it
        (10, 1000, False, 10),
        (100_000, 0, True, 100_000),  # 0 means "no cap": not a tightening
        (0, 500, True, 500),  # no cap here: any cap is tighter
        (1.0, float("nan"), True, 1.0),
        (60.0, "5", False, 60.0),
        (60.0, True, False, 60.0),
        (60.0, -1, False, 60.0),
    ],
)
def test_a_peer_may_tighten_a_limit_never_loosen_it(own, asked, zero_is_unlimited, expected):
    got = inbound.tightened(own, asked, zero_is_unlimited=zero_is_unlimited)
    assert got == expected and type(got) is type(expected)


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(st.one_of(st.text(), _ANY_JSON))
@example("ok\x1b[31m")
@example(f"x {CARD}")
def test_text_gives_printable_bounded_text_or_a_one_line_refusal(value):
    try:
        got = inbound.text(value, "name")
    except Refused as refused:
        assert "\n" not in str(refused) and len(str(refused)) < 120
        return
    assert isinstance(got, str) and 0 < len(got) <= inbound.MAX_TEXT
    assert not CONTROL.search(got)


@given(st.text(max_size=300))
def test_loads_gives_json_or_a_one_line_refusal(raw):
    try:
        value = inbound.loads(raw)
    except Refused as refused:
        assert "\n" not in str(refused)
        return
    # Compared as JSON text: loads("NaN") is a NaN (left to the field checks), never equal to
    # itself, and Hypothesis finds it about one run in several.
    assert json.dumps(value) == json.dumps(json.loads(raw))
