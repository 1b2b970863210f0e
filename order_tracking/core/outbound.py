"""The way out: everything written for a person passes here, once, on its way out.

Terminal text, ``--json``, HTTP and SSE bodies and log lines carry what peers said (a model's
answer, a backend's error, an MCP server's message). Whatever they said, what leaves:

- has every registered secret and anything shaped like a key redacted (``redaction``: the
  same nets as the traces), in text and in every string of a JSON document;
- has no control character a terminal would act on (escape sequences that set the title or
  clear the screen, carriage returns that overwrite a line, bells, direction overrides):
  they are shown escaped, as ``\\x1b``, ``\\r``, ``\\u202e``;
- cannot forge the report's structure: in a peer's multi-line text (an answer), a line that
  would read as a section (``[payment_agent]``), a status (``ERROR: …``), the header or the
  footer is escaped with a leading backslash;
- in JSON, also escapes what JSON allows raw but a terminal acts on (C1 controls such as
  ``\\x9b``, line separators, direction overrides), as ``\\u`` escapes: still the same JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .inbound import CONTROL
from .redaction import redact
from .results import Status

__all__ = ["block", "escaped", "json_text", "line", "public"]

# Besides controls, lone surrogates ("\ud800": JSON lets a peer send one; no encoder writes it,
# so printing it was a UnicodeEncodeError): shown escaped too.
_SHOWN_ESCAPED = re.compile(CONTROL.pattern.removesuffix("]") + r"\ud800-\udfff]")
_CONTROL_BUT_LINES = re.compile(_SHOWN_ESCAPED.pattern.replace(r"\x00-\x1f", r"\x00-\x08\x0b-\x1f"))
_STATUS_WORDS = "|".join(s.value.upper() for s in Status if s is not Status.OK)
# What shows as blank at the start of a line: spaces of any kind and
# Unicode's default-ignorable characters (zero-width spaces and joiners, soft hyphens, direction
# marks, variation selectors, tags), so "\u200b[payment_agent]" cannot pass for a section.
_BLANK = (
    r"[^\S\n]|[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# What the report's own lines start with (core/report.py): a section, a status, the header,
# the footer, a batch's labelled footer.
_STRUCTURE = re.compile(
    rf"^((?:{_BLANK})*)(?=\[|===|Wall-clock time:|Traces written to:|(?:{_STATUS_WORDS}):)",
    re.MULTILINE,
)
# What JSON may carry raw that a terminal acts on (json.dumps escapes \x00-\x1f itself).
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


def escaped(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character (and lone surrogate) shown escaped;
    ``keep_lines`` keeps line breaks and tabs (a multi-line answer)."""
    pattern = _CONTROL_BUT_LINES if keep_lines else _SHOWN_ESCAPED
    if keep_lines:
        text = text.replace("\r\n", "\n")
    return pattern.sub(_escape, text)


def line(text: str) -> str:
    """One line for a person (an error, a log message, a label): redacted, every control
    character escaped, line breaks included."""
    return escaped(redact(text))


def block(text: str) -> str:
    """A peer's multi-line text for a person (an answer): redacted, control characters
    escaped but line breaks and tabs kept, and a line that would read as part of the report's
    structure escaped with a backslash."""
    return _STRUCTURE.sub(r"\1\\", escaped(redact(text), keep_lines=True))


def public(value: Any) -> Any:
    """A JSON document (dicts, lists, scalars) with every string redacted, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {public(k): public(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public(v) for v in value]
    return value


def json_text(value: Any, *, ascii_only: bool = False) -> str:
    """``value`` as one line of JSON for a person or a client: :func:`public`, then what a
    terminal would act on escaped (still valid JSON, the same document); ``ascii_only``:
    every non-ASCII character escaped too."""
    text = json.dumps(public(value), ensure_ascii=ascii_only, default=str)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
