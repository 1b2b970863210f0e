"""Values an answer gives under a name: pairs in JSON (or a Python dict), rows of a markdown
table, and ``key: value`` lines (``Status: shipped | Items: 2``). A model that answers with a
tool's own JSON, or lays the facts out as a table, states each value under its key; the check
reads each against the field the key names (``keys``).

Everything here is one pass over the folded answer (``fold``) with the RE2 patterns below
and plain string splitting: linear in the answer's length.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from dataclasses import dataclass

from .patterns import SKU, compile_bytes

__all__ = ["Pair", "norm_key", "pairs"]


@dataclass(frozen=True)
class Pair:
    """A value under a key: ``key`` normalised (``norm_key``); ``start``/``end`` the value's
    span in the folded answer; ``value`` the value (a JSON scalar for JSON pairs, else text);
    ``quoted``: a JSON pair (its key may be a tool's own field name); ``sku``: the SKU of the
    object or table row it is in."""

    key: str
    start: int
    end: int
    value: object
    quoted: bool
    sku: str | None = None


def norm_key(key: str) -> str:
    """``Tracking No.`` -> ``tracking_no``: lower case, runs of other characters as ``_``."""
    out, gap = [], False
    for char in key.strip().lower():
        if char.isascii() and char.isalnum():
            if gap and out:
                out.append("_")
            out.append(char)
            gap = False
        else:
            gap = True
    return "".join(out)


_STRING = r'"(?:[^"\\\n]|\\.){0,300}"'
_JSON_PAIR = compile_bytes(
    r"(?:\"([A-Za-z_][A-Za-z0-9_ ]{0,40})\"|'([A-Za-z_][A-Za-z0-9_ ]{0,40})')\s{0,5}:\s{0,5}"
    rf"({_STRING}|'(?:[^'\\\n]|\\.){{0,300}}'|-?\d{{1,15}}(?:\.\d{{1,6}})?\b|"
    r"true\b|false\b|null\b|True\b|False\b|None\b)"
)
_JSON_TOKEN = compile_bytes(rf"{_STRING}|[{{}}]")
_KEY_VALUE = compile_bytes(
    r"(?m)(?:^|\|)[ \t]{0,8}(?:[-*+][ \t]{1,4}|\d{1,2}\.[ \t]{1,4})?"
    r"([A-Za-z][A-Za-z0-9 _/().-]{0,30}?)[ \t]{0,4}(?::|=)[ \t]{0,4}([^|\n]{1,200})"
)
_TABLE_RULE = compile_bytes(
    r"^\s{0,8}\|?\s{0,8}:?-{2,}:?\s{0,8}(?:\|\s{0,8}:?-{2,}:?\s{0,8}){0,40}\|?\s{0,8}$"
)
_SCALARS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_KEY_HEADERS = {"field", "key", "attribute", "property", "detail", "item", "name"}
_VALUE_HEADERS = {"value", "details", "info", "information", "result"}


def pairs(data: bytes) -> list[Pair]:
    """Every keyed value in the folded answer ``data``, in no particular order."""
    found = list(_json_pairs(data))
    text = data.decode("latin-1")
    if "|" in text:
        found += _table_pairs(text)
    if b":" in data or b"=" in data:
        for match in _KEY_VALUE.finditer(data):
            start = match.start(2)
            raw = match.group(2).decode("latin-1")
            stripped = raw.rstrip()
            found.append(
                Pair(norm_key(match.group(1).decode("latin-1")), start, start + len(stripped),
                     stripped, False)
            )  # fmt: skip
    return found


def _json_pairs(data: bytes) -> Iterator[Pair]:
    if b'":' not in data and b"':" not in data and b'" :' not in data and b"' :" not in data:
        return
    matches = list(_JSON_PAIR.finditer(data))
    if not matches:
        return
    # Which object each pair is in: the braces outside strings, one pass.
    changes: list[int] = []  # positions where the current object changes
    owners: list[int] = []  # the object from there on
    stack, next_id = [0], 1
    for token in _JSON_TOKEN.finditer(data):
        if token.group() == b"{":
            stack.append(next_id)
            next_id += 1
        elif token.group() == b"}" and len(stack) > 1:
            stack.pop()
        else:
            continue
        changes.append(token.start())
        owners.append(stack[-1])
    raw_pairs = []
    skus: dict[int, str] = {}
    for match in matches:
        key = norm_key((match.group(1) or match.group(2)).decode("latin-1"))
        at = bisect.bisect_right(changes, match.start()) - 1
        owner = owners[at] if at >= 0 else 0
        value, start, end = _scalar(match.group(3).decode("latin-1"), *match.span(3))
        if key == "sku" and isinstance(value, str):
            skus.setdefault(owner, value.upper())
        raw_pairs.append((key, start, end, value, owner))
    for key, start, end, value, owner in raw_pairs:
        yield Pair(key, start, end, value, True, skus.get(owner))


def _scalar(raw: str, start: int, end: int) -> tuple[object, int, int]:
    """A JSON (or Python) scalar's value, and the span of what it says (inside any quotes)."""
    if raw[0] in "\"'":
        inner = raw[1:-1]
        if raw[0] == '"':
            try:
                inner = json.loads(raw)
            except ValueError:
                pass
        return inner, start + 1, end - 1
    if raw in _SCALARS:
        return _SCALARS[raw], start, end
    return raw, start, end  # a number, as written (compared as a number)


def _cells(line: str, offset: int) -> list[tuple[str, int, int]]:
    """A table row's cells: (text, start, end) in the folded answer."""
    cells, begin = [], 0
    bounds = [i for i, char in enumerate(line) if char == "|"]
    for bound in [*bounds, len(line)]:
        cell = line[begin:bound]
        lead = len(cell) - len(cell.lstrip())
        text = cell.strip()
        cells.append((text, offset + begin + lead, offset + begin + lead + len(text)))
        begin = bound + 1
    if cells and not cells[0][0] and bounds and not line[: bounds[0]].strip():
        cells = cells[1:]
    if cells and not cells[-1][0] and bounds and not line[bounds[-1] + 1 :].strip():
        cells = cells[:-1]
    return cells


def _sku_in(cell: str) -> str | None:
    match = SKU.search(cell.encode("latin-1"))
    return match.group().decode("latin-1").upper() if match else None


def _table_pairs(text: str) -> Iterator[Pair]:
    lines, offset = [], 0
    for line in text.split("\n"):
        lines.append((line, offset))
        offset += len(line) + 1
    index = 0
    while index + 1 < len(lines):
        header, offset = lines[index]
        if "|" not in header or not _TABLE_RULE.search(lines[index + 1][0].encode("latin-1")):
            index += 1
            continue
        keys = [norm_key(cell) for cell, _, _ in _cells(header, offset)]
        row = index + 2
        as_pairs = len(keys) == 2 and (keys[0] in _KEY_HEADERS or keys[1] in _VALUE_HEADERS)
        while row < len(lines) and "|" in lines[row][0]:
            cells = _cells(*lines[row])
            if as_pairs and len(cells) >= 2:
                (key, _, _), (value, start, end) = cells[0], cells[1]
                yield Pair(norm_key(key), start, end, value, False)
            elif not as_pairs:
                sku = next(filter(None, (_sku_in(cell) for cell, _, _ in cells)), None)
                for key, (value, start, end) in zip(keys, cells, strict=False):
                    yield Pair(key, start, end, value, False, sku)
            row += 1
        index = row
