"""Keep credentials out of everything we write: answers, errors, logs and traces.

Three nets: the exact values of the secrets in the environment (registered once at start-up),
the shapes keys take when a provider echoes one back, even masked ("Incorrect API key
provided: sk-abc*****wxyz"), and credentials inside URLs (``https://user:pass@host``,
``?api_key=…``), wherever a URL is written (a trace's inference endpoint, an error, a log).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "install_log_redaction",
    "redact",
    "register_secret_values",
    "register_secrets",
]

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_KEY_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9*_\-.]{4,}"  # OpenAI / Anthropic style, masked or not
    r"|\bAIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|(?i:\bbearer\s+)[A-Za-z0-9._\-*~+/]{8,}=*"
    r"|(?i:\b(?:api[_-]?key|x-api-key|access[_-]?token|secret)\b[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;}&#]{6,}"
)
# The userinfo of a URL (``scheme://user:password@``): a password, or a token as the user.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s@\"'<>]+@")
# The same without a scheme, as a host is often recorded (``user:password@host:port``).
_NETLOC_USERINFO = re.compile(r"(?<![\w.+\-/:@%])[\w.~%!$&'()*+,;=\-]+:[^\s/?#@\"'<>]+@(?=[\w\[])")
# A query parameter whose name says it holds a secret (``?api_key=…&sig=…``).
_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;][^=&#\s]*(?:key|token|secret|passw|pwd|sig|auth|credential|session)"
    r"[^=&#\s]*=)[^&#\s\"'<>]+"
)
_known: set[str] = set()


def register_secrets(env: Mapping[str, str]) -> None:
    """Remember the values of credential-like variables (``*_API_KEY``, ``*_TOKEN``...)."""
    _known.update(
        v.strip() for k, v in env.items() if _SECRET_NAME.search(k) and len(v.strip()) >= 8
    )


def register_secret_values(values: Iterable[str]) -> None:
    """Remember secrets that are not one variable's whole value (each of several keys)."""
    _known.update(v for v in values if len(v) >= 8)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret, anything shaped like a key, and credentials in URLs
    replaced."""
    for secret in sorted({*_known, *extra}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _NETLOC_USERINFO.sub(f"{REDACTED}@", text)
    text = _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)
    return _KEY_SHAPES.sub(_keep_label, text)


def _keep_label(match: re.Match[str]) -> str:
    # "api_key=abc123..." keeps its label; a bare key is replaced whole.
    found = match.group(0)
    label = re.match(r"(?i)(\bbearer\s+|.*?[:=]\s*[\"']?)", found)
    return (label.group(1) if label and not found.lower().startswith("sk-") else "") + REDACTED


def _redacted_arg(value: Any) -> Any:
    """A log argument without secrets, its type kept where nothing had to change (numbers
    stay numbers for ``%d``, other libraries' formatters still find what they expect)."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    clean = redact(text)
    return value if clean == text else clean


def _redact_record(record: logging.LogRecord) -> None:
    """Redact the record's message and arguments in place, keeping the record's contract:
    ``msg`` a format string and ``args`` its tuple or mapping, as formatters (uvicorn's
    access formatter unpacks ``args``) expect."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {k: _redacted_arg(v) for k, v in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redacted_arg(v) for v in record.args)
    message = record.getMessage()
    if redact(message) != message:
        # A secret made of the format and its arguments together: only the whole is safe.
        record.msg, record.args = redact(message), ()


def install_log_redaction() -> None:
    """Redact every log record, whatever logger or handler it goes through (LiteLLM has its
    own handlers), including the text of logged exceptions. Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_redacting", False):
        return

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            _redact_record(record)
        except Exception:  # noqa: BLE001 - a bad format string is the logger's problem
            return record
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    redacting_factory._redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
