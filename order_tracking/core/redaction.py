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
from urllib.parse import unquote

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
    # Monocle's credential shapes too (its own obfuscation is off: see tracing/setup.py):
    # private keys, JWTs, AWS access key ids, GitHub and Slack tokens.
    r"|-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]{0,20000}?-----END [A-Z ]{0,40}PRIVATE KEY-----"
    r"|\beyJ[A-Za-z0-9_\-]{1,8192}\.[A-Za-z0-9_\-]{1,8192}\.[A-Za-z0-9_\-]{1,8192}"
    r"|\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASCA)[A-Z0-9]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{16,255}\b|\bxox[baprs]-[A-Za-z0-9\-]{10,255}"
    r"|(?i:\b(?:api[_-]?key|apikey|x-api-key|access[_-]?token|secret|password|passwd|pwd"
    r"|(?:auth|refresh|id|session|sas)[_-]?token|client[_-]?secret|private[_-]?key"
    r"|credentials?)\b[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;}&#]{6,}"
)
# Every quantifier below is bounded: these run on text from strangers (a request path in an
# access log, a chat message in a span), so a pattern must not backtrack over all of it.
# The userinfo of a URL (``scheme://user:password@``): a password, or a token as the user.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,30}://)[^/?#\s@\"'<>]{1,256}@")
# The same without a scheme, as a host is often recorded (``user:password@host:port``).
_NETLOC_USERINFO = re.compile(
    r"(?<![\w.+\-/:@%])[\w.~%!$&'()*+,;=\-]{1,64}:[^\s/?#@\"'<>]{1,256}@(?=[\w\[])"
)
# A query parameter (name and value); its name, searched separately, says if it is a secret.
_PARAMETER = re.compile(r"([?&;])([^=&#\s?;]{1,64})=([^&#\s\"'<>;]{1,2048})")
_SECRET_PARAMETER_NAME = re.compile(r"(?i)key|token|secret|passw|pwd|sig|auth|credential|session")
_known: set[str] = set()
_by_length: tuple[str, ...] = ()  # the known secrets, longest first (replaced in that order)


def register_secrets(env: Mapping[str, str]) -> None:
    """Remember the values of credential-like variables (``*_API_KEY``, ``*_TOKEN``...) and
    of the headers an exporter sends (``OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=KEY``:
    vendors' keys travel there)."""
    register_secret_values(v.strip() for k, v in env.items() if _SECRET_NAME.search(k))
    for name, value in env.items():
        if name.startswith("OTEL_EXPORTER_OTLP") and name.endswith("_HEADERS"):
            register_secret_values(
                unquote(pair.partition("=")[2]).strip() for pair in value.split(",")
            )


def register_secret_values(values: Iterable[str]) -> None:
    """Remember secrets that are not one variable's whole value (each of several keys)."""
    global _by_length
    _known.update(v for v in values if len(v) >= 8)
    _by_length = tuple(sorted(_known, key=len, reverse=True))


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret, anything shaped like a key, and credentials in URLs
    replaced."""
    secrets = sorted({*_by_length, *extra}, key=len, reverse=True) if extra else _by_length
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    # Every span string passes through here: the URL patterns run only where they can match.
    if "@" in text:
        text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
        text = _NETLOC_USERINFO.sub(f"{REDACTED}@", text)
    if "=" in text:
        text = _PARAMETER.sub(_secret_parameter, text)
    return _KEY_SHAPES.sub(_keep_label, text)


def _secret_parameter(match: re.Match[str]) -> str:
    separator, name, _value = match.groups()
    if _SECRET_PARAMETER_NAME.search(name):
        return f"{separator}{name}={REDACTED}"
    return match.group(0)


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
    """Redact the record in place, keeping its contract where it can: ``msg`` a format string
    and ``args`` its tuple or mapping, as other formatters (uvicorn's access formatter unpacks
    ``args``) expect. The arguments are redacted, never the format (its placeholders must
    keep matching them); if the formatted message still holds a secret (format and arguments
    make one together, or the format itself has one), or cannot be formatted at all, the
    record becomes the redacted text alone."""
    msg, args = record.msg, record.args
    if isinstance(args, Mapping):
        record.args = {k: _redacted_arg(v) for k, v in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(_redacted_arg(v) for v in args)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format: logging would print the raw arguments
        record.msg, record.args = redact(f"{msg} {args!r}"), ()
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()


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
        except Exception:  # noqa: BLE001 - whatever happens, the record itself is kept
            return record
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    redacting_factory._redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
