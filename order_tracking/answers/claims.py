"""The checkable claims in an answer: what each says, where it is, and which tool fields must
hold it. The answer is folded first (``fold``: look-alikes read as ASCII, cut to a bounded
length); every pattern is linear-time (``patterns``); a claim's ``text`` and ``start`` are in
the answer as written.

Values given under a key come first (``structured``: JSON, tables, ``key: value``), then ids,
SKUs, dates, amounts, references, carriers, statuses and counts (``counts``) in free text. A
span is claimed once: a date is not also a reference, a count is not part of an amount.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .fold import Folded
from .ids import OrderIdFinder
from .keys import KEYS
from .patterns import (
    CARRIER,
    CURRENCY,
    DATE_PARTS,
    DATES,
    DENIED,
    MONEY,
    MONTHS,
    MOVEMENT,
    NOT_YET,
    REFERENCE,
    SKU,
    STATUS,
    STATUS_SUPPORT,
    SYMBOLS,
    WORD_CURRENCY,
    compile_bytes,
    named,
)
from .structured import Pair, pairs

__all__ = ["MAX_CLAIMS", "Claim", "Claims", "ClaimsFull", "cents", "dates_in", "status_word"]

MAX_CLAIMS = 1_000  # past this many claims the answer is cut (and so not verified)


class ClaimsFull(Exception):
    """``MAX_CLAIMS`` reached: reading stops there."""


@dataclass(frozen=True)
class Claim:
    """A checkable statement: its kind, the words as written, and the normalised value.
    ``context``: a count's SKU; ``fields``: the tool fields that must hold the value (empty:
    any field of its kind); ``exact``: a JSON pair's (key, value), compared with that field
    of the tools' results when they have it."""

    kind: str  # order_id, sku, reference, date, amount, currency, status, carrier, stock,
    # items, field
    text: str
    value: Any
    context: Any = None
    start: int = -1  # where it is in the answer
    fields: tuple[str, ...] = ()
    exact: tuple[str, Any] | None = None


def cents(value: Any) -> Decimal:
    """An amount to the cent (``1.299,50`` and ``1,299.50`` alike); -1 when it is none."""
    text = str(value).strip()
    if "," in text and _DECIMAL_COMMA.fullmatch(text.encode("latin-1", "replace")):
        text = text.replace(".", "").replace(",", ".")
    try:
        return Decimal(text.replace(",", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return Decimal(-1)


_DIGITS = frozenset(b"0123456789")
_DECIMAL_COMMA = compile_bytes(r"\d{1,3}(?:\.\d{3}){0,6},\d{2}")
_LEAD_NUMBER = compile_bytes(r"^\s{0,3}(-?\d{1,3}(?:,\d{3}){1,2}|-?\d{1,15}(?:\.\d{1,6})?)\b")
_INNER_DOUBT = compile_bytes(
    r"(?i)\b(?:not|never|no|will|would|should|could|can|may|might|once|when|if|until|yet)\b|n't"
)
_NAME_HEAD = compile_bytes(
    r"^\s{0,3}([A-Za-z0-9][A-Za-z0-9 .&'-]{0,40}?)\s{0,3}(?:[(,;]|\svia\b|$)"
)
_TOKEN_HEAD = compile_bytes(r"^\s{0,3}([A-Za-z0-9-]{1,60})")
_NOTHING = {"", "none", "null", "n/a", "na", "-", "--", "tbd", "unknown", "pending"}


def status_word(matched: bytes) -> str:
    """A status phrase as ``STATUS_SUPPORT`` names it: ``In-Transit`` -> ``in transit``."""
    return " ".join(matched.decode("latin-1").lower().replace("-", " ").split())


def dates_in(data: bytes, offset: int = 0):
    """(date, span) for each date written in ``data``; a date without a year gets year 1
    (matched on month and day); a day-first or month-first date gives both readings."""
    if not any(c in _DIGITS for c in data):
        return
    for match in DATES.finditer(data):
        groups = match.groups()
        form = next(k for k in range(len(DATE_PARTS)) if groups[4 * k] is not None)
        order, either_way = DATE_PARTS[form]
        parts = dict(zip(order, groups[4 * form + 1 : 4 * form + 4], strict=True))
        if "M" in parts:
            month = MONTHS[parts["M"].decode("latin-1").lower()]
        else:
            month = int(parts["m"])
        readings = [(month, int(parts["d"]))]
        if either_way:
            readings.append((int(parts["d"]), month))
        for m, d in readings:
            try:
                day = date(int(parts["y"] or 1), m, d)
            except ValueError:
                continue
            yield day, (offset + match.start(), offset + match.end())


class Claims:
    """The claims found so far, their spans apart and in order: a new span overlaps one only
    if it overlaps the last that starts before it ends."""

    def __init__(self, text: str, folded: Folded) -> None:
        self.text, self.folded = text, folded
        # What the answer holds at all: patterns that cannot match are not run.
        self.lower = folded.data.lower()
        self.digits = bool(set(folded.data) & _DIGITS)
        self.found: list[Claim] = []
        self.full = False
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, span: tuple[int, int], kind: str, value: Any, **extra: Any) -> bool:
        """Claim ``span`` (of the folded answer; ``shown``: the span to quote, default the
        same) for a claim, unless it overlaps one already made; ``ClaimsFull`` past
        ``MAX_CLAIMS``."""
        shown = extra.pop("shown", span)
        at = bisect.bisect_left(self._starts, span[1])
        if at and self._ends[at - 1] > span[0]:
            return False
        if len(self.found) >= MAX_CLAIMS:
            self.full = True
            raise ClaimsFull
        self._starts.insert(at, span[0])
        self._ends.insert(at, span[1])
        start, end = self.folded.where(*shown)
        self.found.append(Claim(kind, self.text[start:end], value, start=start, **extra))
        return True


def free_text(claims: Claims, ids: OrderIdFinder) -> None:
    """Ids, SKUs, dates, amounts, references, carriers and statuses in free text."""
    data = claims.folded.data
    if b"sku-" in claims.lower:  # before ids: a SKU's tail may look like an id
        for match in SKU.finditer(data):
            claims.add(match.span(), "sku", match.group().decode("latin-1").upper())
    if ids.pattern is not None or b"ord-" in claims.lower:
        for span in ids.spans(data):
            claims.add(span, "order_id", data[span[0] : span[1]].decode("latin-1").upper())
    if claims.digits:
        for day, span in dates_in(data):
            claims.add(span, "date", day)
        _money(claims, data)
        for match in REFERENCE.finditer(data):
            token = match.group()
            digits = sum(c in _DIGITS for c in token)
            if (0 < digits < len(token)) or digits >= 12:
                claims.add(match.span(), "reference", token.decode("latin-1").upper())
    for match in CARRIER.finditer(data):
        claims.add(match.span(1), "carrier", match.group(1).decode("latin-1").upper())
    for match in STATUS.finditer(data):
        if not _doubted(data, match.start()):
            claims.add(match.span(), "status", status_word(match.group()))
    for match in MOVEMENT.finditer(data) if b"refund" in claims.lower else ():
        if not _doubted(data, match.start()) and not _INNER_DOUBT.search(match.group()):
            claims.add(match.span(1), "status", "refunded", shown=match.span())


def _doubted(data: bytes, start: int) -> bool:
    """Whether the words before ``start`` deny it or say it is not yet a fact."""
    before = data[max(0, start - 60) : start]
    return bool(DENIED.search(before) or NOT_YET.search(before))


def _money(claims: Claims, data: bytes, offset: int = 0, **extra: Any) -> bool:
    added = False
    for match in MONEY.finditer(data):
        found = {name[0]: value for name, value in named(match).items() if value is not None}
        currency = found["c"].decode() if "c" in found else None
        if "s" in found:
            currency = currency or SYMBOLS.get(found["s"].decode("latin-1"))
        if "w" in found:
            currency = WORD_CURRENCY[found["w"].decode().lower()]
        span = (offset + match.start(), offset + match.end())
        value = (cents(found["a"].decode()), currency)
        added = claims.add(span, "amount", value, **extra) or added
    return added


def keyed(claims: Claims, found: list[Pair] | None = None) -> None:
    """The claims of values given under a key (``structured``), read by their keys."""
    data = claims.folded.data
    for pair in pairs(data) if found is None else found:
        kind, fields = KEYS.get(pair.key, (None, ()))
        exact = (pair.key, pair.value) if pair.quoted else None
        extra: dict[str, Any] = {"fields": fields, "exact": exact}
        if pair.sku is not None:
            extra["context"] = pair.sku
        span = (pair.start, pair.end)
        text = pair.value if isinstance(pair.value, str) else None
        if kind is None or pair.key in ("sku", "order_id"):
            if exact and pair.key not in ("sku", "order_id", "name"):
                claims.add(span, "field", pair.value, **extra)
            continue
        if text is not None and text.strip().lower() in _NOTHING and not exact:
            continue
        if text is not None and text.strip().lower().startswith(("not ", "no ")) and not exact:
            continue
        if not _typed(claims, data, pair, kind, span, extra) and exact:
            claims.add(span, kind, pair.value, **extra)


def _typed(claims: Claims, data: bytes, pair: Pair, kind: str, span, extra) -> bool:
    """One keyed value read as its kind; whether a claim was made."""
    raw = data[span[0] : span[1]]
    if kind == "status":
        word = status_word(raw)
        if word in STATUS_SUPPORT:
            return claims.add(span, "status", word, **extra)
        literal = word.replace(" ", "_")
        if pair.quoted or ("_" in literal and literal.replace("_", "").isalpha()):
            return claims.add(span, "status", literal, **extra)
        return False
    if kind == "date":
        for day, found in dates_in(raw, span[0]):
            return claims.add(found, "date", day, **extra)
        return False
    if kind == "amount":
        if _money(claims, raw, span[0], **extra):
            return True
        lead = _LEAD_NUMBER.search(raw)
        if lead:
            at = (span[0] + lead.start(1), span[0] + lead.end(1))
            return claims.add(at, "amount", (cents(lead.group(1).decode()), None), **extra)
        return False
    if kind == "currency":
        code = raw.strip().upper()
        if CURRENCY.fullmatch(code):
            return claims.add(span, "currency", code.decode(), **extra)
        return False
    if kind in ("carrier", "reference"):
        # A carrier's name runs to the first bracket or comma; a reference is one token.
        head = _NAME_HEAD if kind == "carrier" else _TOKEN_HEAD
        match = head.search(raw)
        if not match:
            return False
        at = (span[0] + match.start(1), span[0] + match.end(1))
        return claims.add(at, kind, match.group(1).decode("latin-1").upper(), **extra)
    lead = _LEAD_NUMBER.search(raw)  # stock, items: a count at the start of the value
    if lead and not lead.group(1).startswith(b"-") and b"." not in lead.group(1):
        at = (span[0] + lead.start(1), span[0] + lead.end(1))
        return claims.add(at, kind, int(lead.group(1).replace(b",", b"")), **extra)
    return False
