"""Order ids in an answer or a question: ``ORD-`` and digits in any case by default, or the
configured ``ORDER_ID_PATTERN`` as written, compiled by RE2 (linear time, whatever the
pattern) and matched between characters that are not letters or digits. What a pattern may
be is ``core/order_ids.py``'s one rule (``OrderIdPattern``); this only searches with it."""

from __future__ import annotations

from collections.abc import Iterator

import re2

from ..core.order_ids import InvalidPattern, OrderIdPattern
from ..core.values import ConfigError
from .fold import fold
from .patterns import ORDER_ID, compile_bytes

__all__ = ["OrderIdFinder", "UnusablePattern"]


class UnusablePattern(ConfigError):
    """An ``ORDER_ID_PATTERN`` the linear-time engine cannot run; the message says why (a
    bad setting: the composition root builds the check at start-up)."""


class OrderIdFinder:
    """Where order ids are in folded text (``fold``)."""

    def __init__(self, pattern: str | None = None) -> None:
        self.pattern = pattern
        if pattern is None:
            self._regex = ORDER_ID
            return
        # RE2 has no lookarounds: the boundaries are consumed characters around group 1.
        try:
            OrderIdPattern(pattern)  # the one rule: RE2's syntax, bounded counts, no empty id
            self._regex = compile_bytes(
                rf"(?:^|[^A-Za-z0-9])({pattern})(?:[^A-Za-z0-9]|$)".encode("latin-1")
            )
        except (InvalidPattern, re2.error, UnicodeEncodeError) as exc:
            detail = exc.args[0] if exc.args else exc
            if isinstance(detail, bytes):
                detail = detail.decode("latin-1")
            raise UnusablePattern(
                f"ORDER_ID_PATTERN {pattern!r} cannot be run in linear time ({detail})"
            ) from None

    def spans(self, data: bytes) -> Iterator[tuple[int, int]]:
        """The span of each id in ``data``, in order."""
        if self.pattern is None:
            for match in self._regex.finditer(data):
                yield match.span()
            return
        pos = 0
        while pos <= len(data):
            match = self._regex.search(data, pos)
            if match is None:
                return
            start, end = match.span(1)
            if end > start:
                yield start, end
            # The next id may begin right after this one's closing boundary character.
            pos = end if end > pos else pos + 1

    def in_text(self, text: str) -> list[str]:
        """The ids written in ``text`` (as written)."""
        folded = fold(text)
        out = []
        for start, end in self.spans(folded.data):
            begin, stop = folded.where(start, end)
            out.append(text[begin:stop])
        return out
