"""Input checks that run before any model call (an ADK ``before_model_callback``): a message
that is not plain text, is oversized, or reads like an attempt to override the instructions
gets a polite refusal and never reaches a model, whichever model it is.

The instruction check is a cheap first filter, not a security boundary: a blocklist cannot
be one (another language or a paraphrase gets past any list). What protects the system is
structural (docs/failures.md, "Threat model"): the tools are read-only, card data never enters
a tool result, order ids are checked before any prompt, and each agent has only its own tools.
Text is normalised before it is checked (NFKC, invisible format characters removed, common
look-alike letters mapped to Latin), so the cheap tricks do not get past the filter either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from google.adk.models.llm_response import LlmResponse
from google.adk.plugins.base_plugin import BasePlugin
from google.genai import types

__all__ = [
    "REFUSAL_NOT_TEXT",
    "REFUSAL_SCOPE",
    "UserMessageGuard",
    "check_user_content",
    "check_user_text",
    "input_guard",
]

REFUSAL_SCOPE = (
    "I can only help with questions about orders: their status, shipping, stock and payment. "
    "I can't change, ignore or reveal my instructions."
)
REFUSAL_NOT_TEXT = (
    "I can only read plain text messages about orders, e.g. 'Where is ORD-1001?' "
    "(this one has {kind})."
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
# Cyrillic and Greek letters that look like Latin ones (NFKC leaves them alone).
_LOOK_ALIKES = str.maketrans(
    "аеорсухіјѕԁɡһӏԛԝАВЕКМНОРСТХІЈЅаеорсухΑΒΕΗΙΚΜΝΟΡΤΥΧΖοικνρτυχ",
    "aeopcyxijsdghlqwABEKMHOPCTXIJSaeopcyxABEHIKMNOPTYXZoikvptux",
)
_SPACES = re.compile(r"\s+")


def normalised(text: str) -> str:
    """What the filter reads: compatibility forms folded (fullwidth, ligatures), invisible
    format characters (zero-width spaces and joiners, direction marks) removed, look-alike
    letters mapped to Latin, runs of whitespace made one space."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return _SPACES.sub(" ", text.translate(_LOOK_ALIKES))


def check_user_text(text: str, max_chars: int) -> str | None:
    """A polite refusal for input no model should see, or None when it is fine."""
    if len(text) > max_chars:
        return (
            f"That message is too long ({len(text)} characters; the limit is {max_chars}). "
            "Please ask about one order at a time, e.g. 'Where is ORD-1001?'."
        )
    if _INJECTION.search(normalised(text)):
        return REFUSAL_SCOPE
    return None


# What ``UserMessageGuard`` puts in place of a part ADK would refuse before any callback runs:
# a part that is not text (so the guard refuses it), saying what it replaced.
_REPLACED = "application/x.order-tracking.replaced"
_REPLACED_KINDS = {"function-call": "function call", "function-response": "function response"}


def _kind(part: types.Part) -> str | None:
    """What a part holds other than text, if anything."""
    mime = part.inline_data.mime_type or "" if part.inline_data else ""
    if mime.startswith(_REPLACED + ";kind="):
        return _REPLACED_KINDS.get(mime.rsplit("=", 1)[1], "inline data")
    for name in (
        "inline_data",
        "file_data",
        "function_call",
        "function_response",
        "executable_code",
        "code_execution_result",
    ):
        if getattr(part, name, None) is not None:
            return name.replace("_", " ")
    return None


def check_user_content(content: types.Content | None, max_chars: int) -> str | None:
    """A refusal for a user message with anything but text in it (a file, an image, a
    function call or response: our agents take questions, not data), else the text check."""
    parts = content.parts or () if content else ()
    for part in parts:
        if (kind := _kind(part)) is not None:
            article = "an" if kind[0] in "aeiou" else "a"
            return REFUSAL_NOT_TEXT.format(kind=f"{article} {kind} part")
    return check_user_text("".join(p.text or "" for p in parts), max_chars)


class UserMessageGuard(BasePlugin):
    """For ``adk web`` / ``adk api_server``: ADK itself rejects a user message carrying a
    function call before any agent callback runs (its server answers HTTP 500), and would
    treat a function response as the answer of a tool. This plugin, which runs first, swaps
    such parts for an empty non-text part that says what it replaced, which the input guard
    refuses politely like any other non-text part."""

    def __init__(self) -> None:
        super().__init__(name="user_message_guard")

    async def on_user_message_callback(
        self, *, invocation_context: Any, user_message: types.Content
    ) -> types.Content | None:
        parts = user_message.parts or []
        kinds = [_kind(p) for p in parts]
        if not any(kind in ("function call", "function response") for kind in kinds):
            return None
        replaced = {kind: f"{_REPLACED};kind={key}" for key, kind in _REPLACED_KINDS.items()}
        return types.Content(
            role=user_message.role,
            parts=[
                types.Part(inline_data=types.Blob(mime_type=replaced[kind], data=b""))
                if kind in replaced
                else part
                for part, kind in zip(parts, kinds, strict=True)
            ],
        )


def input_guard(max_chars: int) -> Callable[..., LlmResponse | None]:
    """``before_model_callback`` that answers with a refusal instead of calling the model."""

    def guard(callback_context: Any, llm_request: Any) -> LlmResponse | None:
        refusal = check_user_content(getattr(callback_context, "user_content", None), max_chars)
        if refusal is None:
            return None
        return LlmResponse(content=types.Content(role="model", parts=[types.Part(text=refusal)]))

    return guard
