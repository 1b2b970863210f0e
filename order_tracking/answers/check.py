"""Is the answer right? The checkable claims in an agent's answer, each verified against the
results of the tools that agent called in the same run. No model call: regular expressions
and set lookups, microseconds per answer.

A claim is *supported* when a tool result holds the same value after normalisation: dates in
any common written form (``2024-01-18``, ``January 18th``, ``18 Jan 2024``, ``01/18/2024``),
amounts to the cent with their currency when one is written (``$`` alone names none: the
answer formats write ``$`` before every currency), tracking numbers, SKUs and order ids
without regard to case, statuses with their plain-English forms (``in_transit`` is "in
transit", and an order in transit "has shipped"), carriers by name, and a SKU's unit count
against that SKU's own record. A status that is denied ("hasn't shipped yet") or not yet a
fact ("will be delivered", "once it is captured") claims nothing. What it cannot check:
anything no tool returned a value for (advice, apologies, plans), a fact stated in words it
does not extract (a number written out in letters), and a figure the answer works out itself
(a total of units across SKUs is not supported by any one record).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .patterns import (
    CARRIER,
    CURRENCY,
    DATES,
    DENIED,
    ITEMS,
    MONEY,
    MONTHS,
    NOT_YET,
    REFERENCE,
    SKU,
    STATUS,
    STATUS_SUPPORT,
    SYMBOLS,
    UNITS,
    as_ascii,
    order_ids,
)

__all__ = ["Claim", "Facts", "Verdict", "check_answer", "extract_claims"]


@dataclass(frozen=True)
class Claim:
    """A checkable statement: its kind, the words as written, and the normalised value."""

    kind: str  # order_id, reference, sku, date, amount, quantity, status, carrier
    text: str
    value: Any
    context: Any = None  # a quantity's SKU
    start: int = -1  # where it is in the answer


@dataclass(frozen=True)
class Verdict:
    claims: tuple[Claim, ...]
    unsupported: tuple[Claim, ...]

    @property
    def verified(self) -> bool:
        return not self.unsupported


@dataclass
class Facts:
    """What the tools returned, normalised for lookup."""

    strings: set[str] = field(default_factory=set)  # upper case
    dates: set[date] = field(default_factory=set)
    numbers: set[Decimal] = field(default_factory=set)
    currencies: set[str] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)  # lower case, spaces as _
    records: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, results: Iterable[Any]) -> Facts:
        facts = cls()
        for value in _walk(list(results), facts.records):
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, (int, float)):
                facts.numbers.add(_cents(value))
                continue
            text = str(value).strip()
            facts.strings.add(text.upper())
            facts.statuses.add(text.lower().replace(" ", "_").replace("-", "_"))
            if CURRENCY.fullmatch(text.upper()):  # a gateway may say "usd"
                facts.currencies.add(text.upper())
            if len(text) >= 10 and text[4] == "-":  # tools return ISO dates (and times)
                try:
                    facts.dates.add(date.fromisoformat(text[:10]))
                except ValueError:
                    pass
        return facts


def _walk(value: Any, records: list[dict[str, Any]]) -> Iterator[Any]:
    """Every scalar in nested results, without recursion; each dict kept as a record."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            records.append(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            yield item


def _cents(value: Any) -> Decimal:
    try:
        return Decimal(str(value).replace(",", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return Decimal(-1)


def _dates(text: str) -> Iterator[tuple[date, tuple[int, int]]]:
    """(date, span) for each date written in ``text``; a date without a year gets year 1
    (matched on month and day); a day-first or month-first slash date gives both readings."""
    for pattern, order, either_way in DATES:
        for match in pattern.finditer(text):
            parts = dict(zip(order, match.groups(), strict=True))
            month = MONTHS[as_ascii(parts["M"]).lower()] if "M" in parts else int(parts["m"])
            readings = [(month, int(parts["d"]))]
            if either_way:
                readings.append((int(parts["d"]), month))
            for m, d in readings:
                try:
                    yield date(int(parts["y"] or 1), m, d), match.span()
                except ValueError:
                    continue


def extract_claims(text: str, order_id_pattern: str | None = None) -> list[Claim]:
    """The checkable claims in ``text``, in the order they appear. ``order_id_pattern``: a
    regular expression for order ids (unanchored, matched as written), default ``ORD-`` and
    digits in any case."""
    claims: list[tuple[int, Claim]] = []
    # Spans already claimed (a date is not a reference), apart and in order: a new span
    # overlaps one only if it overlaps the last that starts before it ends.
    starts: list[int] = []
    ends: list[int] = []

    def add(span: tuple[int, int], claim: Claim) -> None:
        at = bisect.bisect_left(starts, span[1])
        if at and ends[at - 1] > span[0]:
            return
        starts.insert(at, span[0])
        ends.insert(at, span[1])
        claims.append((span[0], replace(claim, start=span[0])))

    for match in SKU.finditer(text):  # before ids: a SKU's tail may look like an id
        add(match.span(), Claim("sku", match.group(), as_ascii(match.group()).upper()))
    ids = order_ids(order_id_pattern)
    for match in ids.finditer(text):
        add(match.span(), Claim("order_id", match.group(), as_ascii(match.group()).upper()))
    for day, span in _dates(text):
        add(span, Claim("date", text[span[0] : span[1]], day))
    for pattern in MONEY:
        for match in pattern.finditer(text):
            found = match.groupdict()
            currency = found.get("code") or SYMBOLS.get(found.get("sym") or "", None)
            add(match.span(), Claim("amount", match.group(), (_cents(found["amt"]), currency)))
    for line in re.finditer(r"[^\n]+", text):  # a count belongs to the one SKU on its line
        skus = [as_ascii(m.group()).upper() for m in SKU.finditer(line.group())]
        for match in UNITS.finditer(line.group()):
            span = (line.start() + match.start(), line.start() + match.end())
            sku = skus[0] if len(skus) == 1 else None
            add(span, Claim("quantity", match.group(), int(match.group(1)), sku))
    for match in ITEMS.finditer(text):
        add(match.span(), Claim("quantity", match.group(), int(match.group(1) or match.group(2))))
    for match in REFERENCE.finditer(text):
        add(match.span(), Claim("reference", match.group(), as_ascii(match.group()).upper()))
    for match in CARRIER.finditer(text):
        add(match.span(), Claim("carrier", match.group(), as_ascii(match.group()).upper()))
    for match in STATUS.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        if not DENIED.search(before) and not NOT_YET.search(before):
            add(match.span(), Claim("status", match.group(), as_ascii(match.group()).lower()))
    return [claim for _, claim in sorted(claims, key=lambda c: c[0])]


def _supported(claim: Claim, facts: Facts, asked: str | None) -> bool:
    kind, value = claim.kind, claim.value
    if kind == "order_id":
        return value == (asked or "").upper() or value in facts.strings
    if kind in ("sku", "reference", "carrier"):
        return value in facts.strings
    if kind == "date":
        if value.year == 1:
            return any((d.month, d.day) == (value.month, value.day) for d in facts.dates)
        return value in facts.dates
    if kind == "amount":
        amount, currency = value
        return amount in facts.numbers and (currency is None or currency in facts.currencies)
    if kind == "quantity":
        if claim.context is None:
            return _cents(value) in facts.numbers
        return any(
            str(r.get("sku", "")).upper() == claim.context
            and any(
                v == value for v in r.values() if isinstance(v, int) and not isinstance(v, bool)
            )
            for r in facts.records
        )
    if kind == "status":
        return bool(STATUS_SUPPORT[value] & facts.statuses)
    return False


def check_answer(
    text: str,
    tool_results: Iterable[Any],
    *,
    order_id: str | None = None,
    order_id_pattern: str | None = None,
) -> Verdict:
    """Every claim in ``text`` against ``tool_results`` (the results of the tools the agent
    called in this run). ``order_id``: the order asked about (a claim about another order is
    unsupported unless a tool returned it)."""
    claims = extract_claims(text, order_id_pattern)
    facts = Facts.of(tool_results)
    prose = [s for s in facts.strings if len(s) > _RELAY_CONTEXT]  # messages, not values
    unsupported = tuple(
        c for c in claims if not _supported(c, facts, order_id) and not _relayed(c, text, prose)
    )
    return Verdict(tuple(claims), unsupported)


_RELAY_CONTEXT = 15  # characters each side of a claim that must match a tool's own words


def _relayed(claim: Claim, text: str, prose: list[str]) -> bool:
    """Whether the claim is inside words a tool returned (an error message passed on as it
    is: "The carrier system is unavailable (HTTP 500 …)" claims no status of its own)."""
    if claim.start < 0 or not prose:
        return False
    start = max(0, claim.start - _RELAY_CONTEXT)
    end = claim.start + len(claim.text) + _RELAY_CONTEXT
    window = " ".join(text[start:end].split()).upper()
    return any(window in message for message in prose)
