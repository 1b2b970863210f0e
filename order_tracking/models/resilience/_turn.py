"""Which part of a conversation is this turn's, and which of it is the degraded model's.

When every model fails a call, the degraded model answers the question that was asked: it is
handed the conversation up to the question, without what the failed models did in this turn
(their tool calls may have asked for a made-up order), and its own tool calls carry ids that
start with ``DEGRADED_CALL_ID``, so a later call of the same turn sees that the turn is
already the degraded model's and which tool results are its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types

DEGRADED_CALL_ID = "degraded-"


def _is_question(content: types.Content) -> bool:
    return content.role == "user" and any(p.text for p in content.parts or ())


def _is_degraded(content: types.Content) -> bool:
    """A content made only of the degraded model's tool calls, or of their results."""
    parts = content.parts or ()
    ids = [
        (p.function_call.id if p.function_call else p.function_response.id)  # type: ignore[union-attr]
        for p in parts
        if p.function_call or p.function_response
    ]
    return (
        bool(ids)
        and len(ids) == len(parts)
        and all((i or "").startswith(DEGRADED_CALL_ID) for i in ids)
    )


def _turn_start(contents: Sequence[types.Content]) -> int:
    """Where this turn starts: just after the latest user text (the question, or what ADK
    relays of other agents' turns)."""
    for index in range(len(contents) - 1, -1, -1):
        if _is_question(contents[index]):
            return index + 1
    return 0


def degraded_turn(llm_request: LlmRequest) -> bool:
    contents = llm_request.contents
    return any(_is_degraded(c) for c in contents[_turn_start(contents) :])


def question_only(llm_request: LlmRequest) -> LlmRequest:
    """The request without what the failed models did in this turn: the conversation up to
    the question, then the degraded model's own calls and results."""
    contents = llm_request.contents
    start = _turn_start(contents)
    kept = [*contents[:start], *(c for c in contents[start:] if _is_degraded(c))]
    if len(kept) == len(contents):
        return llm_request
    return llm_request.model_copy(update={"contents": kept})


def mark_degraded(response: LlmResponse) -> LlmResponse:
    """``response`` (the degraded model's) with its tool calls' ids marked as its own."""
    for part in (response.content.parts if response.content else None) or ():
        call = part.function_call
        if call is not None and not (call.id or "").startswith(DEGRADED_CALL_ID):
            call.id = DEGRADED_CALL_ID + (call.id or uuid.uuid4().hex[:24])
    return response
