"""RE2 over Latin-1 bytes: the engine every pattern of the answer check runs on.

RE2 (``google-re2``) matches in time linear in the text, whatever the pattern: no input makes
it backtrack. Its programs are called directly here: the package's ``re``-like wrapper costs
several µs a call in Python around a ~1 µs match, and an answer meets some thirty patterns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2
from re2 import _re2

__all__ = ["Found", "Pattern", "compile_bytes", "named"]


class Found:
    """One match in bytes: ``span``/``start``/``end``/``group`` by group number, ``groups``
    and ``groupdict`` (names as ``str``), as ``re`` matches have them."""

    __slots__ = ("_data", "_names", "_spans")

    def __init__(self, data: bytes, spans: list[tuple[int, int]], names: dict[str, int]):
        self._data, self._spans, self._names = data, spans, names

    def span(self, group: int = 0) -> tuple[int, int]:
        return self._spans[group]

    def start(self, group: int = 0) -> int:
        return self._spans[group][0]

    def end(self, group: int = 0) -> int:
        return self._spans[group][1]

    def group(self, group: int = 0) -> bytes | None:
        start, end = self._spans[group]
        return None if start < 0 else self._data[start:end]

    def groups(self) -> tuple[bytes | None, ...]:
        return tuple(self.group(i) for i in range(1, len(self._spans)))

    def groupdict(self) -> dict[str, bytes | None]:
        return {name: self.group(index) for name, index in self._names.items()}


_UNANCHORED, _BOTH = _re2.RE2.Anchor.UNANCHORED, _re2.RE2.Anchor.ANCHOR_BOTH


class Pattern:
    """An RE2 program over Latin-1 bytes, with ``search``, ``fullmatch`` and ``finditer``
    as ``re`` has them (``pattern``: the source)."""

    __slots__ = ("_names", "_program", "pattern")

    def __init__(self, pattern: bytes) -> None:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.log_errors = False
        self.pattern = pattern
        self._program = _re2.RE2(pattern, options)
        if not self._program.ok():
            raise re2.error(self._program.error())
        self._names = {
            (k.decode("latin-1") if isinstance(k, bytes) else k): v
            for k, v in self._program.NamedCapturingGroups()
        }

    def _match(self, anchor: Any, data: bytes, pos: int) -> Found | None:
        spans = self._program.Match(anchor, data, pos, len(data))
        return None if spans[0][0] < 0 else Found(data, spans, self._names)

    def search(self, data: bytes, pos: int = 0) -> Found | None:
        return self._match(_UNANCHORED, data, pos)

    def fullmatch(self, data: bytes) -> Found | None:
        return self._match(_BOTH, data, 0)

    def finditer(self, data: bytes) -> Iterator[Found]:
        pos = 0
        while pos <= len(data):
            found = self._match(_UNANCHORED, data, pos)
            if found is None:
                return
            yield found
            end = found.end()
            pos = end if end > pos else pos + 1  # past an empty match


def compile_bytes(pattern: str | bytes) -> Pattern:
    """``pattern`` compiled by RE2 for Latin-1 bytes (the folded answer)."""
    return Pattern(pattern if isinstance(pattern, bytes) else pattern.encode("latin-1"))


def named(match: Found) -> dict[str, bytes | None]:
    """A match's named groups by name."""
    return match.groupdict()
