"""Is the answer right? The checkable claims in an agent's answer, each verified against the
results of the tools that agent called for the order it was asked about. No model call:
linear-time patterns and set lookups, microseconds per answer.

A claim is *supported* when a relevant tool result (``facts``: about the asked order or its
SKUs) holds the same value in the field the claim is about, after normalisation: dates in
any common written form (``2024-01-18``, ``January 18th``, ``18 Jan 2024``, ``01/18/2024``),
amounts to the cent against amounts (with their currency when one is written; ``$`` alone
names none), tracking numbers, SKUs and order ids without regard to case, statuses with their
plain-English forms (``in_transit`` is "in transit", and an order in transit "has shipped";
"the refund has been issued" is ``refunded``), carriers by name, a SKU's count against that
SKU's own record, an order's item count against its lines or total quantity, and a value
given under a key (JSON, a table, ``key: value``) against the field the key names. A status
that is denied ("hasn't shipped yet") or not yet a fact ("will be delivered") claims nothing.

The answer is read folded (``fold``): look-alike letters as the ASCII ones they imitate, at
most ``MAX_CHECKED_CHARS`` characters and ``MAX_CLAIMS`` claims; an answer cut so is not
verified, and the verdict says so. When the check must hold the answer to a lookup
(``needs_lookup``, the specialists), an answer for which no tool was called for the asked
order is not verified either: it has nothing to stand on.

What it cannot check: anything no tool returned a value for (advice, apologies, plans), a fact
stated in words it does not extract (a number written out in letters, "more than 100"), and
a figure the answer works out itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .claims import Claim, Claims, ClaimsFull, cents, dates_in, free_text, keyed
from .counts import counts
from .facts import Facts, Lookup, Subject, grounding, lookups_of, relevant
from .fold import MAX_CHECKED_CHARS, fold
from .ids import OrderIdFinder
from .patterns import STATUS_SUPPORT

__all__ = ["Claim", "Facts", "Lookup", "Subject", "Verdict", "check_answer", "extract_claims"]


@dataclass(frozen=True)
class Verdict:
    """``claims`` found, those no relevant tool result supports; ``cut``: the answer was
    longer than the check reads (or held more claims); ``no_lookup``: the asked subject when
    no tool was called for it and one had to be."""

    claims: tuple[Claim, ...]
    unsupported: tuple[Claim, ...]
    cut: bool = False
    no_lookup: str | None = None

    @property
    def verified(self) -> bool:
        return not self.unsupported and not self.cut and self.no_lookup is None


def _extract(text: str, ids: OrderIdFinder) -> tuple[list[Claim], bool]:
    folded = fold(text)
    claims = Claims(text, folded)
    try:
        keyed(claims)
        free_text(claims, ids)
        counts(claims)
    except ClaimsFull:
        pass
    return sorted(claims.found, key=lambda c: c.start), folded.cut or claims.full


def extract_claims(text: str, order_id_pattern: str | None = None) -> list[Claim]:
    """The checkable claims in ``text``, in the order they appear. ``order_id_pattern``: the
    configured ``ORDER_ID_PATTERN`` (default ``ORD-`` and digits in any case)."""
    return _extract(text, OrderIdFinder(order_id_pattern))[0]


def check_answer(
    text: str,
    tool_results: Iterable[Any],
    *,
    order_id: str | None = None,
    skus: Iterable[str] = (),
    order_id_pattern: str | OrderIdFinder | None = None,
    arguments: Iterable[Mapping[str, Any]] | None = None,
    needs_lookup: bool = False,
    this_turn: Iterable[Any] | None = None,
) -> Verdict:
    """Every claim in ``text`` against ``tool_results`` (``(tool, result)`` pairs, bare
    results or ``Lookup``s; ``arguments``: each call's arguments, in the same order) that are
    about the order ``order_id`` or the SKUs ``skus`` asked about. ``needs_lookup``: the
    answer is not verified unless a tool was called for that order (among ``this_turn``'s
    lookups, default all)."""
    ids = (
        order_id_pattern
        if isinstance(order_id_pattern, OrderIdFinder)
        else OrderIdFinder(order_id_pattern)
    )
    subject = Subject(
        order_id.strip().upper() if order_id else None, frozenset(s.upper() for s in skus)
    )
    claims, cut = _extract(text, ids)
    lookups = lookups_of(tool_results, arguments)
    facts = Facts.of(relevant(lookups, subject))
    no_lookup = None
    if needs_lookup and subject.known:
        turn = lookups if this_turn is None else lookups_of(this_turn)
        if not grounding(turn, subject):
            no_lookup = subject.order_id or ", ".join(sorted(subject.skus))
    unsupported = tuple(
        c for c in claims if not _supported(c, facts, subject) and not _relayed(c, text, facts)
    )
    return Verdict(tuple(claims), unsupported, cut, no_lookup)


def _supported(claim: Claim, facts: Facts, subject: Subject) -> bool:
    if claim.exact is not None and claim.exact[0] in facts.values:
        return _holds(claim, facts)
    kind, value = claim.kind, claim.value
    if kind == "order_id":
        return value == subject.order_id or value in facts.strings
    if kind in ("sku", "reference"):
        return value in facts.strings
    if kind == "carrier":
        if value in facts.strings:
            return True
        return bool(claim.fields) and any(
            isinstance(v, str) and v.strip() and v.upper() in value
            for v, _ in facts.values.get("carrier", ())
        )
    if kind == "date":
        fields = [f for f in claim.fields if f in facts.dates] or list(facts.dates)
        days = {d for f in fields for d in facts.dates[f]}
        if value.year == 1:
            return any((d.month, d.day) == (value.month, value.day) for d in days)
        return value in days
    if kind == "amount":
        amount, currency = value
        return amount in facts.money and (currency is None or currency in facts.currencies)
    if kind == "currency":
        return value in facts.currencies
    if kind == "status":
        fields = [f for f in claim.fields if f in facts.statuses] or list(facts.statuses)
        said = {s for f in fields for s in facts.statuses[f]}
        return bool(STATUS_SUPPORT.get(value, {value}) & said)
    if kind in ("stock", "items"):
        fields = claim.fields or ("on_hand", "quantity", "lines", "total")
        return any(value in facts.counts.get((f, claim.context), ()) for f in fields)
    return kind == "field"  # a key no relevant tool result has: nothing to compare


def _holds(claim: Claim, facts: Facts) -> bool:
    """A JSON pair against the same field of the tool results (of its SKU's record)."""
    key, said = claim.exact
    for value, sku in facts.values[key]:
        if claim.context is not None and sku is not None and sku != claim.context:
            continue
        if _same(said, value):
            return True
    return False


def _same(said: Any, value: Any) -> bool:
    if said is None or isinstance(said, bool) or value is None or isinstance(value, bool):
        return said is value or (said == value and type(said) is type(value))
    if isinstance(value, (int, float, Decimal)):
        try:
            return Decimal(str(said)) == Decimal(str(value))
        except InvalidOperation:
            return False
    text, wanted = str(said).strip(), str(value).strip()
    if _norm(text) == _norm(wanted):
        return True
    if len(wanted) >= 10 and wanted[4] == "-":  # an ISO date said another way
        try:
            day = date.fromisoformat(wanted[:10])
        except ValueError:
            return False
        return any(
            d == day or (d.year == 1 and (d.month, d.day) == (day.month, day.day))
            for d, _ in dates_in(text.encode("latin-1", "replace"))
        )
    return cents(text) == cents(wanted) != Decimal(-1)


def _norm(text: str) -> str:
    return "_".join(text.lower().replace("-", " ").split())


_RELAY_CONTEXT = 15  # characters each side of a claim that must match a tool's own words
_RELAY_PROSE = 64 * 1024  # of messages searched for a relayed claim


def _relayed(claim: Claim, text: str, facts: Facts) -> bool:
    """Whether the claim is inside words a tool returned (an error message passed on as it
    is: "The carrier system is unavailable (HTTP 500 …)" claims no status of its own)."""
    if claim.start < 0 or not facts.prose:
        return False
    start = max(0, claim.start - _RELAY_CONTEXT)
    end = claim.start + len(claim.text) + _RELAY_CONTEXT
    window = " ".join(text[start:end].split()).upper()
    seen = 0
    for message in facts.prose:
        if window in message:
            return True
        seen += len(message)
        if seen > _RELAY_PROSE:
            return False
    return False


__all__ += ["MAX_CHECKED_CHARS", "cents"]
