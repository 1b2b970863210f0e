"""Input checks that run before any model call: oversized or injected user input never
reaches a model, whichever model it is (an ADK ``before_model_callback``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from google.adk.models.llm_response import LlmResponse
from google.genai import types

REFUSAL_SCOPE = (
    "I can only help with questions about orders: their status, shipping, stock and payment. "
    "I can't change, ignore or reveal my instructions."
)

# Classic attempts to override or extract the instructions. A real model is also told to
# decline these; this check makes sure they never reach one.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules?)\b"
    r"|\b(system|hidden|initial)\s+prompt\b"
    r"|\breveal\b.{0,30}\b(instructions?|prompt)\b"
    r"|\byou are now\b|\b(act|behave)\s+as\s+(an?|my|the|if|though)\b|\bpretend to be\b"
    r"|\bjailbreak\b|\bdeveloper mode\b",
    re.IGNORECASE | re.DOTALL,
)


def check_user_text(text: str, max_chars: int) -> str | None:
    """A polite refusal for input no model should see, or None when it is fine."""
    if len(text) > max_chars:
        return (
            f"That message is too long ({len(text)} characters; the limit is {max_chars}). "
            "Please ask about one order at a time, e.g. 'Where is ORD-1001?'."
        )
    if _INJECTION.search(text):
        return REFUSAL_SCOPE
    return None


def input_guard(max_chars: int) -> Callable[..., LlmResponse | None]:
    """``before_model_callback`` that answers with a refusal instead of calling the model."""

    def guard(callback_context: Any, llm_request: Any) -> LlmResponse | None:
        content = getattr(callback_context, "user_content", None)
        text = "".join(p.text or "" for p in (content.parts or ())) if content else ""
        refusal = check_user_text(text, max_chars)
        if refusal is None:
            return None
        return LlmResponse(content=types.Content(role="model", parts=[types.Part(text=refusal)]))

    return guard
