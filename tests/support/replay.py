"""Recorded model responses (``tests/fixtures/model_responses/*.json``, written by
``scripts/record_model_responses.py``), answered again: what ``OpenAIStub`` serves for the
model ``replay``.

A request is matched to the recording by what it asks, not by its bytes: the tools offered
(each agent has its own set), the question, and how many model turns came before in this
question's turn. Requests with the same key (an attempt and its retries) get the recorded
responses in the order they were recorded; past the end, the last one again. A request the
recording has no answer for is a *miss* (HTTP 500, and kept in ``misses``): the flow has
changed since the recording, which should then be made again.

``shape`` sorts a recorded response into what it is (an empty answer, arguments that are not
JSON, a made-up id, prose where a tool call was due, an answer cut off...), so the replay test
can say which shapes it replays.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "model_responses"
ORDER_ID = re.compile(r"ORD-[0-9]+")
ESCAPED = re.compile(r"&(?:#39|#34|quot|amp|lt|gt);")

Key = tuple[tuple[str, ...], str, int]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def key(body: dict[str, Any]) -> Key:
    """(the tools offered, the question, model turns before this one in the question's turn)."""
    messages = body.get("messages") or []
    tools = tuple(
        sorted((t.get("function") or {}).get("name", "") for t in body.get("tools") or ())
    )
    asked = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    question = _text(messages[asked].get("content")) if asked >= 0 else ""
    turns = sum(1 for m in messages[asked + 1 :] if m.get("role") == "assistant")
    return tools, question, turns


def recorded_key(exchange: dict[str, Any]) -> Key:
    """The key of a recorded request (its tool names and messages, the system's left out)."""
    request = exchange["request"]
    tools = [{"function": {"name": name}} for name in request["tools"]]
    return key({"messages": request["messages"], "tools": tools})


def shape(exchange: dict[str, Any]) -> str:
    """What a recorded response is, one word: ``error`` (not HTTP 200), ``empty``,
    ``cut-off`` (``finish_reason: length``), ``bad-args`` (a tool call whose arguments are not
    a JSON object), ``made-up-id`` (a tool call for another order than the one asked),
    ``tool-call``, ``prose`` (text where a tool call was due: no tool had answered yet) or
    ``answer``."""
    if exchange.get("status", 200) != 200:
        return "error"
    choices = exchange["response"].get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    calls = message.get("tool_calls") or []
    if choice.get("finish_reason") == "length":
        return "cut-off"
    _, question, turns = recorded_key(exchange)
    if calls:
        asked = ORDER_ID.findall(question)
        for call in calls:
            try:
                args = json.loads((call.get("function") or {}).get("arguments") or "")
            except json.JSONDecodeError:
                return "bad-args"
            if not isinstance(args, dict):
                return "bad-args"
            given = args.get("order_id")
            if given is not None and asked and given != asked[-1]:
                return "made-up-id"
        return "tool-call"
    if not _text(message.get("content")).strip():
        return "empty"
    return "prose" if turns == 0 else "answer"


def escaped(exchange: dict[str, Any]) -> bool:
    """Whether the response holds HTML-escaped text (``&#39;``), as a model copies it from a
    template that escaped its prompt."""
    return bool(ESCAPED.search(json.dumps(exchange.get("response"), ensure_ascii=False)))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def shapes(recording: dict[str, Any]) -> Counter[str]:
    return Counter(shape(e) for e in recording["exchanges"])


class Replay:
    """The responses of one recording, served by key; thread-safe (the stub's handlers run
    on threads). ``served`` keeps (key, exchange) of every request answered."""

    def __init__(self, recording: dict[str, Any]) -> None:
        self._by_key: dict[Key, list[dict[str, Any]]] = {}
        for exchange in recording["exchanges"]:
            self._by_key.setdefault(recorded_key(exchange), []).append(exchange)
        self._next: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self.served: list[tuple[Key, dict[str, Any]]] = []
        self.misses: list[Key] = []

    def answer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The recorded exchange for this request; None for a miss."""
        k = key(body)
        with self._lock:
            recorded = self._by_key.get(k)
            if not recorded:
                self.misses.append(k)
                return None
            exchange = recorded[min(self._next[k], len(recorded) - 1)]
            self._next[k] += 1
            self.served.append((k, exchange))
            return exchange
