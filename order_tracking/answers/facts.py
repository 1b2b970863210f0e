"""What the tools said, for the order that was asked about.

A *lookup* is one tool call: the tool, its result and the arguments it was called with. The
*subject* is what the question asked about: an order id, and SKUs named in it. A lookup is
about the order its result names (``order_id``), else the order or SKU it was called with; an
answer is checked only against lookups about the subject, and those about the SKUs of the
subject's order (a stock lookup for one of its items). A lookup that names neither an order
nor a SKU (a result with no id, called with no arguments) is kept: nothing says it is about
something else.

``Facts`` is those results normalised for lookup: strings in upper case, statuses, dates by
field, amounts (from fields named as money), currencies, stock levels and order lines by
SKU, item counts per order (lines and total quantity), every field's values, and the long
strings (messages) an answer may pass on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .claims import cents
from .keys import COUNT_WORDS, MONEY_WORDS
from .patterns import CURRENCY_CODES

__all__ = ["Facts", "Lookup", "Subject", "grounding", "lookups_of", "relevant"]


@dataclass(frozen=True)
class Lookup:
    """One tool call: the tool's name, what it returned, the arguments it was called with."""

    tool: str
    result: Any
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Subject:
    """What a question asked about: an order id (upper case) and SKUs it names."""

    order_id: str | None = None
    skus: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return bool(self.order_id or self.skus)


def lookups_of(
    results: Iterable[Any], arguments: Iterable[Mapping[str, Any]] | None = None
) -> list[Lookup]:
    """Lookups from ``(tool, result)`` pairs (or bare results), with the call arguments of
    each when given (in the same order)."""
    args = list(arguments or [])
    out = []
    for index, item in enumerate(results):
        if isinstance(item, Lookup):
            out.append(item)
            continue
        tool, result = item if isinstance(item, tuple) and len(item) == 2 else ("", item)
        given = args[index] if index < len(args) and isinstance(args[index], Mapping) else {}
        out.append(Lookup(str(tool), result, given))
    return out


def _text(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def _about(lookup: Lookup) -> tuple[str | None, str | None]:
    """(order id, SKU) the lookup was for, each None when it does not say."""
    result = lookup.result
    order = _text(result.get("order_id")) if isinstance(result, Mapping) else None
    return order or _text(lookup.args.get("order_id")), _text(lookup.args.get("sku"))


def _skus_in(value: Any) -> set[str]:
    found, stack = set(), [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if (sku := _text(item.get("sku"))) is not None:
                found.add(sku)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found


def relevant(lookups: Iterable[Lookup], subject: Subject) -> list[Lookup]:
    """The lookups an answer about ``subject`` may stand on (all when nothing was asked)."""
    lookups = list(lookups)
    if not subject.known:
        return lookups
    abouts = [_about(lookup) for lookup in lookups]
    skus = set(subject.skus)
    for lookup, (order, _) in zip(lookups, abouts, strict=True):
        if order is not None and order == subject.order_id:
            skus |= _skus_in(lookup.result)
    kept = []
    for lookup, (order, sku) in zip(lookups, abouts, strict=True):
        if order is not None:
            keep = order == subject.order_id
        elif sku is not None:
            keep = sku in skus
        else:
            named = _skus_in(lookup.result)
            keep = not named or named <= skus
        if keep:
            kept.append(lookup)
    return kept


def grounding(lookups: Iterable[Lookup], subject: Subject) -> bool:
    """Whether any lookup was made for ``subject`` itself (its order, or a SKU it names)."""
    for lookup in lookups:
        order, sku = _about(lookup)
        if order is not None and order == subject.order_id:
            return True
        if order is None and sku is not None and sku in subject.skus:
            return True
    return False


@lru_cache(maxsize=1024)
def _money_field(key: str) -> bool:
    return any(w in key for w in MONEY_WORDS) and not any(w in key for w in COUNT_WORDS)


_PROSE = 15  # strings longer than this are messages an answer may quote


@dataclass
class Facts:
    """What the relevant lookups returned, normalised."""

    strings: set[str] = field(default_factory=set)  # upper case
    statuses: dict[str, set[str]] = field(default_factory=dict)  # field -> lower, _ for spaces
    dates: dict[str, set[date]] = field(default_factory=dict)  # field -> dates
    money: set[Decimal] = field(default_factory=set)
    currencies: set[str] = field(default_factory=set)
    counts: dict[tuple[str, str | None], set[int]] = field(default_factory=dict)
    values: dict[str, list[tuple[Any, str | None]]] = field(default_factory=dict)
    prose: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, lookups: Iterable[Lookup]) -> Facts:
        facts = cls()
        stack: list[tuple[str, Any, str | None]] = [("", [lk.result for lk in lookups], None)]
        while stack:  # every value with its key and the SKU of its record; no recursion
            key, value, sku = stack.pop()
            if isinstance(value, (str, int, float)) or value is None:
                facts._scalar(key, value, sku)
                continue
            if isinstance(value, Mapping):
                own = _text(value.get("sku")) or sku
                facts._order(value)
                stack.extend((str(k).lower(), v, own) for k, v in value.items())
                continue
            if isinstance(value, (list, tuple)):
                stack.extend((key, v, sku) for v in value)
                continue
            facts._scalar(key, value, sku)
        return facts

    def _order(self, record: Mapping[str, Any]) -> None:
        """An order's item counts: its lines and its total quantity."""
        if isinstance(record.get("item_count"), int):
            self.counts.setdefault(("lines", None), set()).add(record["item_count"])
        items = record.get("items")
        if isinstance(items, list) and items and all(isinstance(i, Mapping) for i in items):
            quantities = [i.get("quantity") for i in items]
            if all(isinstance(q, int) and not isinstance(q, bool) for q in quantities):
                self.counts.setdefault(("lines", None), set()).add(len(items))
                self.counts.setdefault(("total", None), set()).add(sum(quantities))

    def _scalar(self, key: str, value: Any, sku: str | None) -> None:
        self.values.setdefault(key, []).append((value, sku))
        if value is None or value is True or value is False:
            return
        if isinstance(value, (int, float, Decimal)):
            if _money_field(key):
                self.money.add(cents(value))
            if isinstance(value, int) and key in ("on_hand", "quantity"):
                self.counts.setdefault((key, sku), set()).add(value)
                self.counts.setdefault((key, None), set()).add(value)
            return
        text = (value if isinstance(value, str) else str(value)).strip()
        upper = text.upper()
        self.strings.add(upper)
        if len(text) > _PROSE:
            self.prose.append(" ".join(upper.split()))
        self.statuses.setdefault(key, set()).add(_status(text))
        if len(text) == 3 and upper in CURRENCY_CODES:
            self.currencies.add(upper)
        if _money_field(key) and text.replace(".", "", 1).isdigit():
            self.money.add(cents(text))
        if len(text) >= 10 and text[4] == "-":  # tools return ISO dates (and times)
            try:
                self.dates.setdefault(key, set()).add(date.fromisoformat(text[:10]))
            except ValueError:
                pass


def _status(text: str) -> str:
    return text.lower().replace(" ", "_").replace("-", "_")
