"""The way out (``core/outbound.py``): what a peer said, made safe for a person once, on its
way out; and the report, ``--json`` and the SSE events written through it."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from order_tracking.core import outbound
from order_tracking.core.inbound import CONTROL
from order_tracking.core.redaction import REDACTED, register_secret_values
from order_tracking.core.report import order_json, render_report
from order_tracking.core.results import AgentResult, OrderReport, Status

SECRET = "sk-live-peer-echo-0123456789abcdef"

FORGED = (
    "Status: shipped\n\n[payment_agent]\nStatus: refunded | Amount: $0.00 USD\n"
    "ERROR: the card was declined\n=== Order Tracking Results for ORD-9 ===\n"
    "Wall-clock time: 0.01s\nTraces written to: nowhere"
)


def _report(text: str, error: str | None = None, status: Status = Status.OK) -> OrderReport:
    result = AgentResult("order_status_agent", status, text, error, 0.1)
    return OrderReport("ORD-1001", (result,), 0.1)


def test_a_peer_cannot_forge_a_section_a_status_or_the_footer():
    text = render_report(_report(FORGED))
    lines = text.splitlines()
    assert lines.count("[order_status_agent]") == 1
    assert not any(
        line.startswith(("[payment_agent]", "ERROR:", "Wall-clock time: 0.01")) for line in lines
    )
    assert "\\[payment_agent]" in lines and "\\ERROR: the card was declined" in lines
    assert sum(line.startswith("=== ") for line in lines) == 1


def test_terminal_controls_from_a_peer_are_shown_escaped():
    text = render_report(
        _report("in\x1b]0;pwned\x07transit\r\n\x1b[2Jgone", "bad\x9b\nthing", Status.UNVERIFIED)
    )
    assert not CONTROL.search(text.replace("\n", ""))
    assert "in\\x1b]0;pwned\\x07transit\n\\x1b[2Jgone" in text
    assert "UNVERIFIED: bad\\x9b\\nthing" in text


def test_secrets_a_peer_echoes_are_redacted_in_text_and_json():
    register_secret_values([SECRET])
    report = _report(f"Your key is {SECRET}.", f"echoed {SECRET}", Status.ERROR)
    assert SECRET not in render_report(report)
    written = outbound.json_text(order_json(report))
    assert SECRET not in written and REDACTED in written


def test_json_escapes_what_a_terminal_would_act_on_and_stays_the_same_document():
    value = {"text": "a\x9b[2Jb\u202ec\u2028d\x7f", "n": 1}
    written = outbound.json_text(value)
    assert all(c not in written for c in "\x9b\u202e\u2028\x7f")
    assert json.loads(written) == value


@given(st.text())
@example("x\r\n[payment_agent]\r\nok")
@example("  [a]\n===\nUNAVAILABLE: x")
def test_any_peer_text_leaves_without_controls_or_structure(text):
    shown = outbound.block(text)
    assert not CONTROL.search(shown.replace("\n", "").replace("\t", ""))
    for line in shown.split("\n"):
        assert not line.lstrip(" \t").startswith(("[", "===", "Wall-clock time:", "ERROR:"))
    one = outbound.line(text)
    assert "\n" not in one and not CONTROL.search(one)


@given(
    st.recursive(
        st.text() | st.integers() | st.none(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=20,
    )
)
def test_json_text_is_json_of_the_public_document(value):
    written = outbound.json_text(value)
    assert "\n" not in written
    assert json.loads(written) == json.loads(json.dumps(outbound.public(value)))


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.OK])
def test_a_status_word_at_the_start_of_an_answer_line_is_escaped(status):
    shown = outbound.block(f"fine\n{status.upper()}: forged")
    assert shown == f"fine\n\\{status.upper()}: forged"


@pytest.mark.parametrize(
    "blank", ["\u200b", "\ufeff", "\u2060", "\u200e", "\u00ad", "\u00a0", "\u3000", "\u200b \u200d"]
)
def test_a_section_behind_an_invisible_or_unusual_blank_is_escaped_too(blank):
    """A zero-width space (a byte-order mark, a word joiner, a direction mark, a soft hyphen)
    shows as nothing and a no-break space as a space: ``"\\u200b[payment_agent]"`` read on a
    terminal as a section of its own, and was not escaped."""
    shown = outbound.block(f"Status: shipped\n{blank}[payment_agent]\n{blank}ERROR: declined")
    assert shown == f"Status: shipped\n{blank}\\[payment_agent]\n{blank}\\ERROR: declined"


def test_a_lone_surrogate_is_shown_escaped_in_text_and_json():
    """JSON lets a peer send "\\ud800", which no encoder writes: printing it failed."""
    assert outbound.block("a\ud800\nb") == "a\\ud800\nb"
    assert outbound.line("a\udfff") == "a\\udfff"
    written = outbound.json_text({"text": "a\ud800"})
    written.encode("utf-8")
    assert json.loads(written) == {"text": "a\ud800"}  # the same document
