"""Counts in free text, each with the field it claims.

- a SKU's count: ``SKU-APL-01: 510 in stock``, ``157 of SKU-APL-01 on hand``, ``SKU-APL-01 →
  15``, ``150 units`` on a SKU's clause, ``only 30 left`` (kind ``stock``): that SKU's
  ``on_hand`` when the clause speaks of stock, its ``quantity`` on the order when it speaks of
  ordering, either when it says neither; without a SKU, any of the tools' stock levels;
- a line of an order: ``2 x SKU-APL-01``, ``SKU-APL-01 (qty 2)`` (kind ``items``, that SKU's
  ``quantity``);
- an order's item count (kind ``items``): its lines (``2 products``, ``2 line items``), its
  total quantity (``3 units in total``), or either (``2 items``, ``Items: 2``).

A count belongs to the SKU in its own clause: the nearest before it, else the only one in
the clause. A bound ("more than 100", "~100") is not a count; nor is "2 items are low".
"""

from __future__ import annotations

import bisect

from .claims import Claims
from .patterns import (
    COMPARED,
    ITEMS,
    ITEMS_ARE,
    NUMBER_WORDS,
    OF_SKU,
    SEGMENT_END,
    SKU,
    SKU_COUNT,
    STOCK_COUNT,
    TIMES_SKU,
    UNITS,
    compile_bytes,
)

__all__ = ["counts"]

_STOCK_WORDS = compile_bytes(
    r"(?i)\b(?:in[\s-]stock|on[\s-]hand|available|left|remaining|warehouse|inventory|stock|"
    r"stocked|reorder)\b"
)
_ORDER_WORDS = compile_bytes(
    r"(?i)\b(?:ordered|contains|includes|qty|quantity|purchased|bought|in\s(?:your|the|this)"
    r"\sorder)\b"
)
_SKU_FIELDS = {"stock": ("on_hand",), "order": ("quantity",), None: ("on_hand", "quantity")}
_LOOSE_FIELDS = {"stock": ("on_hand",), "order": ("total",), None: ("on_hand", "quantity", "total")}


class _Clauses:
    """Where clauses end, and the SKUs written in the answer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._ends: list[int] | None = None  # read when a count needs them
        self._skus: list[tuple[int, str]] | None = None
        self._starts: list[int] = []
        self._wording: dict[int, str | None] = {}  # by clause: each clause read once

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._ends = [m.start() for m in SEGMENT_END.finditer(self.data)]
        return self._ends

    @property
    def skus(self) -> list[tuple[int, str]]:
        if self._skus is None:
            found = SKU.finditer(self.data) if b"sku-" in self.data.lower() else ()
            self._skus = [(m.start(), m.group().decode("latin-1").upper()) for m in found]
            self._starts = [position for position, _ in self._skus]
        return self._skus

    def bounds(self, at: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.ends, at)
        start = self.ends[index - 1] + 1 if index else 0
        end = self.ends[index] if index < len(self.ends) else len(self.data)
        return start, end

    def sku_for(self, at: int) -> str | None:
        start, end = self.bounds(at)
        skus = self.skus
        starts = self._starts
        first = bisect.bisect_left(starts, start)
        last = bisect.bisect_left(starts, end)
        before = bisect.bisect_left(starts, at)
        if first < before:
            return skus[before - 1][1]
        return skus[first][1] if last - first == 1 else None

    def wording(self, at: int) -> str | None:
        """``stock`` or ``order`` when the clause speaks of one of them, else None."""
        start, end = self.bounds(at)
        if start not in self._wording:
            clause = self.data[start:end]
            stock, order = _STOCK_WORDS.search(clause), _ORDER_WORDS.search(clause)
            said = "stock" if stock and not order else "order" if order and not stock else None
            self._wording[start] = said
        return self._wording[start]


def _number(raw: bytes) -> int:
    word = NUMBER_WORDS.get(raw.decode("latin-1").lower())
    return word if word is not None else int(raw.replace(b",", b""))


def _bounded(data: bytes, start: int) -> bool:
    return bool(COMPARED.search(data[max(0, start - 20) : start]))


def _sku_counts(claims: Claims, clauses: _Clauses, pattern, number: int, sku: int) -> None:
    """Counts written with their SKU ("157 of SKU-APL-01", "SKU-APL-01: 510")."""
    for match in pattern.finditer(clauses.data):
        span = match.span(number)
        if _bounded(clauses.data, span[0]):
            continue
        fields = _SKU_FIELDS[clauses.wording(span[0])]
        sku_value = match.group(sku).decode("latin-1").upper()
        claims.add(span, "stock", _number(match.group(number)), context=sku_value,
                   fields=fields, shown=match.span())  # fmt: skip


def _loose_counts(claims: Claims, clauses: _Clauses, pattern) -> None:
    """Counts with words after them ("150 units", "30 left"), for the SKU of their clause."""
    for match in pattern.finditer(clauses.data):
        span = match.span(1)
        if _bounded(clauses.data, span[0]):
            continue
        sku = clauses.sku_for(span[0])
        wording = "stock" if pattern is STOCK_COUNT else clauses.wording(span[0])
        fields = (_SKU_FIELDS if sku else _LOOSE_FIELDS)[wording]
        claims.add(span, "stock", _number(match.group(1)), context=sku, fields=fields,
                   shown=match.span())  # fmt: skip


_STOCK_HINTS = (b"stock", b"hand", b"available", b"left", b"remaining", b"warehouse",
                b"inventory")  # fmt: skip
_ITEM_HINTS = (b"item", b"product", b"line", b"sku", b"total", b"article")
_UNIT_HINTS = (b"unit", b"pcs", b"piece")


def counts(claims: Claims) -> None:
    """Every count in free text, as ``stock`` and ``items`` claims (a pattern runs only when
    the answer has the words it needs)."""
    data, lower = claims.folded.data, claims.lower
    if not claims.digits and not any(w.encode() in lower for w in NUMBER_WORDS):
        return
    clauses = _Clauses(data)
    skus = b"sku-" in lower
    for match in TIMES_SKU.finditer(data) if skus else ():
        groups = match.groups()
        number, sku = next((n, s) for n, s in ((1, 2), (4, 3), (6, 5)) if groups[n - 1])
        span = match.span(number)
        if not _bounded(data, span[0]):
            sku_value = match.group(sku).decode("latin-1").upper()
            claims.add(span, "items", _number(match.group(number)), context=sku_value,
                       fields=("quantity",), shown=match.span())  # fmt: skip
    if skus:
        _sku_counts(claims, clauses, OF_SKU, 1, 2)
    if any(hint in lower for hint in _STOCK_HINTS):  # before items: "8 items in stock"
        _loose_counts(claims, clauses, STOCK_COUNT)
    for match in ITEMS.finditer(data) if any(h in lower for h in _ITEM_HINTS) else ():
        index = next(i for i, group in enumerate(match.groups(), start=1) if group)
        span = match.span(index)
        if _bounded(data, span[0]):
            continue
        if index == 5 and ITEMS_ARE.search(data[match.end() : match.end() + 12]):
            continue
        fields = {1: ("lines", "total"), 2: ("lines",), 3: ("total",), 4: ("total",)}
        claims.add(span, "items", _number(match.group(index)),
                   fields=fields.get(index, ("lines", "total")), shown=match.span())  # fmt: skip
    if any(hint in lower for hint in _UNIT_HINTS):
        _loose_counts(claims, clauses, UNITS)
    if skus:
        _sku_counts(claims, clauses, SKU_COUNT, 2, 1)
