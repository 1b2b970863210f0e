"""The messages on the stream: an order question coming in (checked here, once, as it enters:
every message is from a stranger), the report going out, and a dead letter saying why a
message was not answered. The shapes are published in ``event.schema.json`` (``SCHEMA_PATH``).

The stream is one more surface on the one way in and the one way out: an event's JSON and
its fields are checked by ``core/inbound.py`` (the same JSON rules, printable text, card data
refused, the order id by this process's pattern), and what goes back on the stream (the
report, a dead letter quoting a message) by ``core/outbound.py`` (secrets redacted, what a
terminal acts on escaped).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core import inbound, outbound
from ..core.order_ids import OrderIdPattern
from ..core.report import order_json
from ..core.results import OrderReport

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_EVENT_ID_CHARS",
    "MAX_QUESTION_CHARS",
    "SCHEMA_PATH",
    "Event",
    "Rejected",
    "check_event",
    "dead_letter",
    "new_event",
    "result_message",
]

SCHEMA_PATH = Path(__file__).with_name("event.schema.json")

# An event is ~100 bytes; anything near this bound is not one (a 10 MB message is refused
# before it is decoded, and a dead letter quotes only its first ``QUOTED_BYTES``).
MAX_EVENT_BYTES = 64 * 1024
MAX_EVENT_ID_CHARS = 128
MAX_QUESTION_CHARS = 1_000
QUOTED_BYTES = 2_048
# W3C Trace Context, version 00: trace id and parent span id in lower-case hex, not all zero.
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_FIELDS = {"id", "order_id", "question"}


class Rejected(ValueError):
    """Not an event we can answer; the message is the reason the dead letter gives.
    ``event_id`` is the message's id when it had a valid one."""

    def __init__(self, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.event_id = reason, event_id


@dataclass(frozen=True)
class Event:
    """An order question that passed every check: its id, the order id as the systems know
    it, the question (kept with the report; the agents answer their own fixed question, as
    on every other way in) and the producer's trace (a valid ``traceparent``, else None)."""

    id: str
    order_id: str
    question: str | None = None
    traceparent: str | None = None


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise Rejected(f"{field} must be a string, got {_json_type(value)}")
    if not 0 < len(value) <= limit:
        raise Rejected(f"{field} must be 1 to {limit} characters")
    return value


def check_event(
    body: bytes, headers: Mapping[str, str], pattern: OrderIdPattern, max_bytes: int
) -> Event:
    """The event in ``body``, or ``Rejected`` with the reason: larger than ``max_bytes``, not
    UTF-8 JSON, not an object, an unknown or repeated field, an id that is not 1 to 128
    printable ASCII characters, an order id that fails ``pattern``, a question that is not
    printable text. A ``traceparent`` header that is not W3C Trace Context is ignored (the
    order gets a trace of its own), as the W3C specification asks."""
    if len(body) > max_bytes:
        raise Rejected(f"message is {len(body)} bytes, more than {max_bytes}")
    try:
        data = inbound.loads(body, max_bytes=max_bytes, constants=False)
    except inbound.Refused as exc:
        raise Rejected(str(exc)) from None
    if not isinstance(data, dict):
        raise Rejected(f"an event is a JSON object, got {_json_type(data)}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise Rejected(f"unknown field {_quoted(unknown[0])} (fields: id, order_id, question)")
    if "id" not in data:
        raise Rejected("no id")
    try:
        event_id = inbound.code(
            _text(data["id"], "id", MAX_EVENT_ID_CHARS), "id", limit=MAX_EVENT_ID_CHARS
        )
    except inbound.Refused as exc:
        raise Rejected(str(exc)) from None
    try:
        if "order_id" not in data:
            raise Rejected("no order_id")
        order_id = inbound.order_id(_text(data["order_id"], "order_id", 1_000), pattern)
        question = data.get("question")
        if question is not None:
            question = _text(question, "question", MAX_QUESTION_CHARS)
            # Card data refused, control characters, and (stricter for a question that reaches
            # a prompt) format and separator characters too.
            inbound.text(question, "question", limit=MAX_QUESTION_CHARS)
            if not question.isprintable():
                raise Rejected("question: must be printable text")
    except inbound.Refused as exc:
        raise Rejected(str(exc), event_id) from None
    except Rejected as exc:
        raise Rejected(exc.reason, event_id) from None
    traceparent = headers.get("traceparent")
    if not (isinstance(traceparent, str) and _TRACEPARENT.fullmatch(traceparent)):
        traceparent = None
    return Event(event_id, order_id, question, traceparent)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _quoted(text: str) -> str:
    shown = json.dumps(text)
    return shown if len(shown) <= 40 else shown[:36] + '…"'


def new_event(order_id: str, question: str | None = None) -> tuple[str, bytes]:
    """A new event for ``order_id`` (already checked): its own id, and the message body."""
    event_id = str(uuid.uuid4())
    data = {"id": event_id, "order_id": order_id}
    if question is not None:
        data["question"] = question
    return event_id, json.dumps(data).encode()


def result_message(event: Event, report: OrderReport) -> bytes:
    """The report as ``track-order --json`` prints it for one order, with the event's id
    (and its question, when it had one)."""
    data = {"event_id": event.id, **order_json(report)}
    if event.question is not None:
        data["question"] = event.question
    return outbound.json_text(data).encode()


def dead_letter(
    reason: str, body: bytes, *, event_id: str | None, delivered: int, consumer: str
) -> bytes:
    """Why a message was not answered, with as much of it as is safe to quote: its first
    ``QUOTED_BYTES`` as text (undecodable bytes replaced), through the way out: secrets it
    echoes redacted, and ASCII JSON, so no control character reaches whoever reads it raw."""
    quoted = body[:QUOTED_BYTES].decode("utf-8", errors="replace")
    data = {
        "reason": reason,
        "event_id": event_id,
        "delivered": delivered,
        "consumer": consumer,
        "payload_bytes": len(body),
        "payload": quoted,
        "truncated": len(body) > QUOTED_BYTES,
    }
    return outbound.json_text(data, ascii_only=True).encode()
