"""Order ids, checked before anything runs: a bad id never reaches a prompt.

An id is ``ORD-`` followed by 1 to 12 ASCII digits, any case (``ord-1001`` -> ``ORD-1001``).
Ids come from arguments, from a file or stdin (one per line, ``#`` comments and blank lines
skipped, UTF-8 with or without a byte-order mark, lines of at most ``MAX_LINE_BYTES``), and
from URLs of the HTTP service.
"""

from __future__ import annotations

import itertools
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, BinaryIO

__all__ = ["MAX_LINE_BYTES", "InvalidOrderId", "OrderIds", "parse_order_id", "source_name"]

_ORDER_ID = re.compile(r"ORD-[0-9]{1,12}", re.IGNORECASE)


class InvalidOrderId(ValueError):
    """Not an order id; the message says what one looks like (and where, for a file)."""


def parse_order_id(raw: str, *, strip: bool = True) -> str:
    """``ord-1001`` -> ``ORD-1001``; anything else that is not ``ORD-`` + 1-12 ASCII digits
    is refused before it can reach a prompt. ``strip=False``: surrounding whitespace is
    refused too (in a URL it is a client's mistake, not formatting)."""
    candidate = raw.strip() if strip else raw
    if not _ORDER_ID.fullmatch(candidate):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidOrderId(
            f"invalid order id {shown!r}: expected ORD- followed by digits, e.g. ORD-1001"
        )
    return candidate.upper()


MAX_LINE_BYTES = 1024  # an id is short: a longer line is not one (and /dev/zero never ends)
_BOM = b"\xef\xbb\xbf"


def _lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    """(number, text) of each line of ``stream``, decoded as UTF-8 (a byte-order mark at the
    start is fine), read at most ``MAX_LINE_BYTES`` at a time."""
    for number in itertools.count(1):
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise InvalidOrderId(
                f"{source}, line {number}: longer than {MAX_LINE_BYTES} bytes, not an order id"
            )
        if number == 1:
            raw = raw.removeprefix(_BOM)
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidOrderId(f"{source}, line {number}: not UTF-8 text") from None


def source_name(stream: BinaryIO | None) -> str:
    """How an input is named in an error: its path, or ``<stdin>``."""
    if stream is None:
        return ""
    if stream is getattr(sys.stdin, "buffer", None):
        return "<stdin>"
    return str(getattr(stream, "name", "") or "<stdin>")


class OrderIds:
    """Checked order ids, read once, kept on disk rather than in memory: a million-line file
    costs a temporary file, not a million strings. Iterate as often as needed; ``close()``
    (or ``with``) removes the file."""

    def __init__(
        self, ids: Sequence[str], stream: BinaryIO | None = None, source: str = ""
    ) -> None:
        """The ids in ``ids``, then one per line of ``stream`` (blank lines and ``#`` comments
        skipped). Everything is checked before this returns: the first bad one raises
        ``InvalidOrderId`` naming its line (``orders.txt, line 2: invalid order id …``)."""
        self._first = [parse_order_id(raw) for raw in ids]
        self.count = len(self._first)
        self._spool: IO[str] | None = None
        if stream is None:
            return
        self._spool = tempfile.TemporaryFile("w+", encoding="ascii")
        try:
            for number, line in _lines(stream, source):
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                try:
                    order_id = parse_order_id(text)
                except InvalidOrderId as exc:
                    raise InvalidOrderId(f"{source}, line {number}: {exc}") from None
                self._spool.write(order_id + "\n")
                self.count += 1
            self._spool.flush()
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        if self._spool is not None:
            self._spool.seek(0)
            for line in self._spool:
                yield line.rstrip("\n")

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> OrderIds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
