"""Order ids, checked before anything runs: a bad id never reaches a prompt.

An id is ``ORD-`` followed by 1 to 12 ASCII digits, any case (``ord-1001`` -> ``ORD-1001``).
Ids come from arguments, from a file or stdin (one per line, ``#`` comments and blank lines
skipped), and from URLs of the HTTP service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["InvalidOrderId", "parse_order_id", "read_order_ids"]

_ORDER_ID = re.compile(r"ORD-[0-9]{1,12}", re.IGNORECASE)


class InvalidOrderId(ValueError):
    """Not an order id; the message says what one looks like (and where, for a file)."""


def parse_order_id(raw: str) -> str:
    """``ord-1001`` -> ``ORD-1001``; anything else that is not ``ORD-`` + 1-12 ASCII digits
    is refused before it can reach a prompt."""
    candidate = raw.strip()
    if not _ORDER_ID.fullmatch(candidate):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidOrderId(
            f"invalid order id {shown!r}: expected ORD- followed by digits, e.g. ORD-1001"
        )
    return candidate.upper()


def read_order_ids(ids: Sequence[str], lines: Iterable[str] = (), source: str = "") -> list[str]:
    """Ids from the arguments, then from ``lines`` (a file named ``source``: one per line,
    blank lines and ``#`` comments skipped). All are checked before anything runs; a bad line
    is named (``orders.txt, line 2: invalid order id …``)."""
    found = [parse_order_id(raw) for raw in ids]
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                found.append(parse_order_id(text))
            except InvalidOrderId as exc:
                raise InvalidOrderId(f"{source}, line {number}: {exc}") from None
    return found
