"""Keep credentials out of everything we write: answers, errors, logs and traces.

Two nets: the exact values of the secrets in the environment (registered once at start-up),
and the shapes keys take when a provider echoes one back, even masked ("Incorrect API key
provided: sk-abc*****wxyz").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_KEY_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9*_\-.]{4,}"  # OpenAI / Anthropic style, masked or not
    r"|\bAIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|(?i:\bbearer\s+)[A-Za-z0-9._\-*~+/]{8,}=*"
    r"|(?i:\b(?:api[_-]?key|x-api-key|access[_-]?token|secret)\b[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;}]{6,}"
)
_known: set[str] = set()


def register_secrets(env: Mapping[str, str]) -> None:
    """Remember the values of credential-like variables (``*_API_KEY``, ``*_TOKEN``...)."""
    _known.update(
        v.strip() for k, v in env.items() if _SECRET_NAME.search(k) and len(v.strip()) >= 8
    )


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret and anything shaped like a key replaced."""
    for secret in sorted({*_known, *extra}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(_keep_label, text)


def _keep_label(match: re.Match[str]) -> str:
    # "api_key=abc123..." keeps its label; a bare key is replaced whole.
    found = match.group(0)
    label = re.match(r"(?i)(\bbearer\s+|.*?[:=]\s*[\"']?)", found)
    return (label.group(1) if label and not found.lower().startswith("sk-") else "") + REDACTED


def install_log_redaction() -> None:
    """Redact every log record, whatever logger or handler it goes through (LiteLLM has its
    own handlers), including the text of logged exceptions. Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_redacting", False):
        return

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), None
        except Exception:  # noqa: BLE001 - a bad format string is the logger's problem
            return record
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    redacting_factory._redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
