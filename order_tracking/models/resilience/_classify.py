"""Which provider errors are worth another attempt, how long the provider asks us to wait,
and how an error is described to a user (one line, secrets redacted)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from google.adk.models.llm_response import LlmResponse
from google.genai import types

from ...core.redaction import redact

# HTTP statuses worth another try; everything else (400, 401, 403, 404, 422...) is final.
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# A provider asking for a longer pause than this is treated as down for this call.
MAX_RETRY_AFTER_S = 30.0
_PERMANENT_CAUSES = frozenset(
    {
        "UnsupportedProtocol",
        "InvalidURL",
        "NonHttpUrlClientError",
        "InvalidUrlClientError",
        "SSLCertVerificationError",
        "ClientConnectorCertificateError",
    }
)
_TRANSIENT_NAMES = frozenset(
    {"APIConnectionError", "Timeout", "ServiceUnavailableError", "InternalServerError"}
)


class ModelCallTimeout(TimeoutError):
    """A whole model call took longer than its timeout (however the provider trickled it)."""


class MalformedResponseError(Exception):
    """The model answered with something it cannot have meant: nothing at all, a tool call
    whose arguments are not JSON, or an answer cut off at its token limit. Worth another
    attempt (models sample), but it says nothing about the provider being down: it never
    counts against a circuit (see ``is_outage``)."""


def check_response(response: LlmResponse) -> None:
    """Raise ``MalformedResponseError`` for a complete response that is empty, carries a
    tool call ADK had to discard (it reports those as ``MALFORMED_FUNCTION_CALL``), or was
    cut off at the token limit (``finish_reason: length``, which ADK reports as
    ``MAX_TOKENS``): half an answer may have lost the very fact that was asked for, or cut a
    number short, so it is not passed on as if it were whole."""
    if response.partial:
        return
    if response.error_code == types.FinishReason.MALFORMED_FUNCTION_CALL:
        raise MalformedResponseError("the provider sent a tool call whose arguments are not JSON")
    if types.FinishReason.MAX_TOKENS in (response.error_code, response.finish_reason):
        raise MalformedResponseError("the answer was cut off at the model's token limit")
    if response.error_code is None and not (
        response.content and any(p.text or p.function_call for p in response.content.parts or ())
    ):
        raise MalformedResponseError("the provider sent an empty answer")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt could succeed (rate limits, server errors, network trouble)."""
    # LiteLLM reports every connection problem as a 500, a bad URL included: look underneath.
    if any(type(c).__name__ in _PERMANENT_CAUSES for c in _causes(exc)):
        return False
    # A body that is not JSON is the provider's fault, whatever status came with it (LiteLLM's
    # own HTTP handler reports it with the 200 it arrived with; the openai SDK, as a 500).
    if any(isinstance(c, json.JSONDecodeError) for c in _causes(exc)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _TRANSIENT_STATUS
    if isinstance(exc, (ConnectionError, TimeoutError, MalformedResponseError)):
        return True
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__)


def is_outage(exc: BaseException) -> bool:
    """Whether a failed attempt says the provider is down or overloaded (what a circuit
    breaker is for): a transient error that is not one malformed answer. A model that
    answers badly is up; its bad answer to one prompt must not refuse every other agent's
    and every later order's calls."""
    malformed = any(isinstance(c, MalformedResponseError) for c in _causes(exc))
    return is_transient(exc) and not malformed


def retry_after_s(exc: BaseException) -> float | None:
    """The provider's ``Retry-After`` in seconds, when it sent one (seconds form only)."""
    # LiteLLM keeps the provider's headers in litellm_response_headers; its .response is a
    # synthetic one without them.
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        try:
            value = headers.get("retry-after") if headers else None
            if value is not None:
                return min(max(0.0, float(value)), MAX_RETRY_AFTER_S)
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message``, without LiteLLM's repeated type prefixes and with
    anything key-like redacted (providers sometimes echo the key they were given)."""
    name = type(exc).__name__
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    # LiteLLM says "litellm.InternalServerError: InternalServerError: OpenAIException - ...".
    message = re.sub(rf"^(?:(?:litellm\.)?{re.escape(name)}:\s*)+", "", message)
    return redact(f"{name}: {_provider_said(message)}" if message else name)


def _provider_said(message: str) -> str:
    """``OpenAIException - {"error": {"message": "..."}}`` (LiteLLM's own HTTP handler quotes
    the provider's JSON body whole) as ``OpenAIException - ...``, as the openai SDK words it."""
    prefix, brace, body = message.partition("{")
    if not brace or len(body) > 10_000:
        return message
    try:
        said = json.loads(brace + body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return message
    return f"{prefix}{said}" if isinstance(said, str) and said.strip() else message
