"""The way in: every value a peer sends is checked here, once, then trusted.

A peer is anything this process did not compute itself: a backend's or a database's record, an
MCP server's tool result, a Temporal workflow's input, a line of an imported file, a model's
tool-call arguments. Each way in (``docs/threat-model.md`` lists them) builds our own values
from what the peer sent with these checks and nothing else:

- **bounded**: strings, lists, nesting and whole answers have a size (``MAX_*``), so nothing a
  peer sends can grow a prompt, a trace or the terminal without end;
- **shaped**: a record is a mapping with the fields its kind has; fields it does not have are
  dropped (card data has no field to go into) or, for files we import, refused;
- **printable**: a control character (escape sequences, carriage returns, bells, line
  breaks, direction overrides) in a peer's value is refused: no peer value needs one;
- **card data refused**: a card number in free text (recognised by shape and the Luhn
  checksum) never passes;
- **ids re-checked** against this process's ``ORDER_ID_PATTERN``; **limits** are this
  process's own, which a peer may only tighten (:func:`tightened`).

A refusal is :class:`Refused`, one line naming the field; each way in turns it into its own
answer (a system ``unavailable``, ``line N: …`` for an import, a tool's error result).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from .order_ids import InvalidOrderId, OrderIdPattern

__all__ = ["CONTROL", "MAX_BYTES", "MAX_CODE", "MAX_DEPTH", "MAX_ITEMS", "MAX_MESSAGE"]
__all__ += ["MAX_TEXT", "Refused", "bounded", "code", "date", "fields", "integer", "loads"]
__all__ += ["message", "money", "optional_code", "order_id", "record_id", "shown_name"]
__all__ += ["text", "tightened"]

MAX_TEXT = 200  # a name
MAX_CODE = 64  # an id, a SKU, a status, a carrier, a tracking number
MAX_MESSAGE = 300  # a peer's error message, relayed to a model
MAX_ITEMS = 1000  # items in an order, stock levels in an answer
MAX_DEPTH = 16  # nesting of a structured answer (an order is 4 deep)
MAX_BYTES = 1 << 20  # a whole answer: the HTTP backend client's body cap, for every peer

# What no peer value may carry, and what the way out escapes: C0 and C1 controls and DEL (escape
# sequences, carriage return, bell, line breaks), line and paragraph separators, and the
# direction overrides and isolates that make text read in another order than it is stored.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_PRINTABLE_ASCII = re.compile(r"[!-~]+")  # no space
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# 13 to 19 digits of any script (after NFKC: full-width ones are ASCII), single spaces, dots
# or dashes between them allowed, not inside a longer number.
_CARD = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){12,18}(?!\d)")


class Refused(ValueError):
    """A peer's value does not fit; the message names the field and says why, in one line."""


def _where(where: str) -> str:
    return where or "the answer"


def _said(where: str, what: str) -> str:
    return f"{where}: {what}" if where else what


def _card_number(value: str) -> bool:
    """Whether ``value`` holds something shaped like a card number that passes Luhn."""
    for found in _CARD.finditer(unicodedata.normalize("NFKC", value)):
        digits = [int(c) for c in found.group() if c.isdecimal()]
        odd = digits[-1::-2]
        even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
        if (sum(odd) + sum(even)) % 10 == 0:
            return True
    return False


def text(value: Any, where: str, *, limit: int = MAX_TEXT, free: bool = True) -> str:
    """A non-empty string of at most ``limit`` characters, valid Unicode, without control
    characters; ``free`` text (a name, a message) must not hold a card number either."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{_where(where)}: must be a non-empty string")
    if len(value) > limit:
        raise Refused(f"{_where(where)}: longer than {limit} characters")
    if CONTROL.search(value):
        raise Refused(f"{_where(where)}: has control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): not text
        raise Refused(f"{_where(where)}: not valid Unicode text") from None
    if free and _card_number(value):
        raise Refused(f"{_where(where)}: holds a card number")
    return value


def code(value: Any, where: str, *, limit: int = MAX_CODE) -> str:
    """Printable ASCII without spaces (an id, a SKU, a tracking number). Not scanned for card
    numbers: an EAN-13 SKU or a 15-digit tracking number passes Luhn one time in ten."""
    value = text(value, where, limit=limit, free=False)
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise Refused(f"{_where(where)}: must be printable ASCII without spaces")
    return value


def optional_code(value: Any, where: str) -> str | None:
    return None if value is None else code(value, where)


def message(value: Any, default: str, *, limit: int = MAX_MESSAGE) -> str:
    """A peer's error message to relay (to a model, in a result): as it is when it passes
    :func:`text`, else ``default`` (a message is never a reason to refuse the answer)."""
    try:
        return text(value, "message", limit=limit)
    except Refused:
        return default


def date(value: Any, where: str, *, optional: bool = False) -> str | None:
    """An ISO calendar date, ``YYYY-MM-DD``."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise Refused(f"{_where(where)}: must be a date as YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise Refused(f"{_where(where)}: {value} is not a calendar date") from None
    return value


def integer(value: Any, where: str, low: int, high: int) -> int:
    """A whole number in ``[low, high]`` (``5.0`` is one, as in JSON Schema; ``True`` is not)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refused(f"{_where(where)}: must be a whole number from {low} to {high}")
    return value


def money(value: Any, where: str, high: float) -> float:
    """A finite amount in ``[0, high]``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= high  # compared before any float(): 10**400 is an int
        or not math.isfinite(value)
    ):
        raise Refused(f"{_where(where)}: must be a number from 0 to {high:g}")
    return float(value)


def order_id(value: Any, pattern: OrderIdPattern, where: str = "order_id") -> str:
    """An order id by this process's pattern, as the systems know it. Nothing is stripped:
    ``"ORD-1001\\n"`` is refused, not mended."""
    raw = code(value, where)
    try:
        return pattern.parse(raw, strip=False)
    except InvalidOrderId as exc:
        raise Refused(f"{where}: {exc}") from None


def record_id(value: Any, pattern: OrderIdPattern, asked: str, where: str = "order_id") -> str:
    """The id in a record answering for ``asked``: an id, and the same order (ids name one
    order whatever their letters' case: ``OrderIdPattern.key``)."""
    found = order_id(value, pattern, where)
    if pattern.key(found) != pattern.key(asked):
        raise Refused(f"{where}: the answer is for another order")
    return found


def fields(
    value: Any,
    where: str,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    *,
    strict: bool = False,
) -> dict[str, Any]:
    """The mapping's ``allowed`` fields (``required`` ones present). The rest is dropped, a
    payment's card data with it; ``strict`` (a file we import) refuses it instead, so a
    misspelt field does not vanish."""
    if not isinstance(value, Mapping):
        raise Refused(f"{where or 'the line'} must be a JSON object")
    allowed = set(allowed)
    prefix = f"{where}." if where else ""
    if strict:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise Refused(f"{prefix}{shown_name(unknown[0])}: unknown field")
    missing = sorted(set(required) - set(value))
    if missing:
        raise Refused(f"{prefix}{missing[0]}: missing")
    return {k: v for k, v in value.items() if k in allowed}


def shown_name(name: str) -> str:
    """A field name a peer chose, as quoted in a refusal: escaped and short."""
    return (name if name.isprintable() else repr(name))[:40]


def bounded(value: Any, where: str = "", *, max_bytes: int | None = MAX_BYTES) -> Any:
    """``value`` (parsed JSON: dicts, lists, strings, numbers) if it is at most ``MAX_DEPTH``
    deep and about ``max_bytes`` at most (its strings and keys, 8 a number, 1 a list entry;
    ``None``: depth only). Walked without recursion: a deeply nested answer is refused, never
    a ``RecursionError``."""
    size, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(_said(where, f"nested deeper than {MAX_DEPTH} levels"))
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, Mapping):
            size += sum(len(str(k)) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            size += len(item)
            stack.extend((v, depth + 1) for v in item)
        else:
            size += 8
        if max_bytes is not None and size > max_bytes:
            raise Refused(_said(where, f"larger than {max_bytes:,} bytes"))
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise Refused(f"{shown_name(key)}: the field appears twice")
        found[key] = value
    return found


def _nan(name: str) -> Any:
    raise Refused(f"not JSON ({name} is not a JSON number)")


def loads(
    raw: bytes | str, where: str = "", *, max_bytes: int = MAX_BYTES, constants: bool = True
) -> Any:
    """JSON from a peer: at most ``max_bytes`` of UTF-8 (RFC 8259), a field at most once per
    object (readers differ on which of two counts), at most ``MAX_DEPTH`` deep. ``NaN`` and
    ``Infinity`` are left to the field checks, or refused here with ``constants=False``."""
    if len(raw) > max_bytes:
        raise Refused(_said(where, f"larger than {max_bytes:,} bytes"))
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        value = json.loads(
            raw, object_pairs_hook=_no_duplicates, parse_constant=None if constants else _nan
        )
    except UnicodeDecodeError:
        raise Refused(_said(where, "not JSON (not UTF-8 text)")) from None
    except RecursionError:
        raise Refused(_said(where, "not JSON (nested too deep)")) from None
    except Refused as exc:
        raise Refused(_said(where, str(exc))) from None
    except ValueError as exc:  # JSONDecodeError, an integer of over 4,300 digits
        reason = str(exc).split(":")[0]
        raise Refused(_said(where, f"not JSON ({reason})")) from None
    return bounded(value, where, max_bytes=None)  # its size was the text's


def tightened(own: Any, asked: Any, *, zero_is_unlimited: bool = False) -> Any:
    """A limit of this process (``own``; ``None`` or, with ``zero_is_unlimited``, 0: no limit)
    that a peer asked to be ``asked``: the tighter of the two. A request that is not a positive
    finite number (0 for "no limit" among them) leaves ``own`` as it is: a peer may tighten a
    limit, never loosen it."""
    if (
        isinstance(asked, bool)
        or not isinstance(asked, int | float)
        or not math.isfinite(asked)
        or asked <= 0
    ):
        return own
    if isinstance(own, int):  # 0.5 calls or tokens is a cap of 1, never 0 ("no cap")
        asked = math.ceil(asked)
    if own is None or (zero_is_unlimited and own == 0):
        return asked if own is None else type(own)(asked)
    return type(own)(min(own, asked))
