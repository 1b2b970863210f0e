"""Logging: the human format (unchanged: the libraries quiet unless ``-v``), or
``LOG_FORMAT=json``, one JSON object per line on stderr with the level, logger, message, and
the order, agent and trace the record was written for.

The order and agent come from :func:`log_context`, which the runner enters around an order
and an agent's run; the trace id is OpenTelemetry's current span's (the order's trace: the
runner makes its root span current). Records are redacted before any formatter sees them
(``redaction.install_log_redaction``), and written by the way out (``core/outbound.py``): a
message that carries a peer's text cannot move the cursor, clear the screen or start a line
that looks like another record (its control characters, line breaks included, are escaped).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from ..core import outbound

__all__ = [
    "LIBRARY_LOGGERS",
    "JsonFormatter",
    "TextFormatter",
    "adopt_library_handlers",
    "configure_logging",
    "json_active",
    "log_context",
    "say",
]

LoggingMode = Literal["quiet", "verbose", "host"]

# Loggers of the libraries underneath. A failing agent is reported in its own section; their
# tracebacks for the same failure would bury the answer, so they are shown only with --verbose.
LIBRARY_LOGGERS = (
    "asyncio",  # e.g. a burst of "socket.accept() out of system resource" under load
    "google_adk",
    "LiteLLM",
    "LiteLLM Router",
    "LiteLLM Proxy",
    "monocle_apptrace",
    "mcp",
    "opentelemetry",
    "temporalio",  # the SDK's own and its core's (forwarded: see temporal/_client.runtime)
)
OURS = "order_tracking"

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None
)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Inside the block, every record carries these fields (``order_id``, ``agent``)."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def _trace_ids() -> dict[str, str]:
    # Only if OpenTelemetry is loaded already: a command that runs no agent never pays for it.
    otel = sys.modules.get("opentelemetry.trace")
    if otel is None:
        return {}
    context = otel.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, then ``order_id``, ``agent``, ``trace_id``, ``span_id`` when known, and
    ``exception`` (the traceback as text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a format that does not fit its arguments
            message = f"{record.msg} {record.args!r}"
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            **(_context.get() or {}),
            **_trace_ids(),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return outbound.json_text(line)


class TextFormatter(logging.Formatter):
    """The human format, one line per record: the message's control characters escaped
    (a traceback after it keeps its lines, its other control characters escaped too)."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return outbound.escaped(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        # The traceback, made by the redacting record factory, is the record's: escaped for
        # this handler only.
        kept = record.exc_text
        if kept:
            record.exc_text = outbound.escaped(kept, keep_lines=True)
        try:
            return super().format(record)
        finally:
            record.exc_text = kept

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return outbound.escaped(super().formatException(ei), keep_lines=True)


_MARK = "_order_tracking_handler"  # handlers this module added (and may take away again)
_TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_json_active = False


def configure_logging(mode: LoggingMode, log_format: str = "text") -> None:
    """``quiet`` keeps the libraries' own records off the terminal, ``verbose`` shows their
    warnings, ``host`` leaves logging to the program we run in (``adk web``). With ``json``
    our own records from INFO up are written too (an order's outcome, each agent's), as JSON
    lines on stderr; the libraries' join them with ``verbose``. Called again, it replaces
    what it set before (the composition root sets the human format first, so anything logged
    while the settings are read looks as it always did, then the one the settings ask for)."""
    global _json_active
    if mode == "host":
        return
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    _json_active = log_format == "json"
    ours = logging.getLogger(OURS)
    if _json_active:
        root.addHandler(_marked(JsonFormatter()))
        root.setLevel(logging.WARNING)
        ours.setLevel(logging.INFO)
        logging.captureWarnings(True)  # `warnings.warn` as records too, not bare lines
        adopt_library_handlers()
    elif mode == "verbose":
        if not root.handlers:  # what logging.basicConfig does, with a handler we can remove
            root.addHandler(_marked(TextFormatter()))
            root.setLevel(logging.WARNING)
        ours.setLevel(logging.NOTSET)
    if mode == "quiet":
        for name in LIBRARY_LOGGERS if _json_active else (*LIBRARY_LOGGERS, OURS):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _marked(formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _MARK, True)
    return handler


def adopt_library_handlers() -> None:
    """With JSON logs, the libraries' own stderr handlers (LiteLLM installs one when it is
    imported) are taken away: their records reach the JSON handler through the root. Called
    again once the libraries are imported."""
    if not _json_active:
        return
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        library.propagate = True


def json_active() -> bool:
    """Whether records are written as JSON (what a server's own logging must join)."""
    return _json_active


def say(message: str, level: int = logging.INFO, logger: str = "order_tracking.cli") -> None:
    """A line for the operator on stderr ("Serving on …", a warning, "Interrupted by …"); with
    JSON logs, a record like every other line there."""
    if _json_active:
        logging.getLogger(logger).log(level, "%s", message)
    else:
        print(outbound.line(message), file=sys.stderr)
