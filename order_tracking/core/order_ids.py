"""Order ids, checked before anything runs: a bad id never reaches a prompt.

By default an id is ``ORD-`` followed by 1 to 12 ASCII digits, any case (``ord-1001`` ->
``ORD-1001``). Real systems have their own (``#W2611340``, ``113-1234567-1234567``):
``ORDER_ID_PATTERN`` sets the regular expression, matched whole (anchored) and case-sensitively,
ids kept as written. Whatever the pattern, an id is at most ``MAX_ID_CHARS`` printable ASCII
characters without spaces, checked before the pattern runs: nothing long, invisible or
multi-line reaches a regular expression or a prompt.

The pattern is someone's input, so it runs on RE2 (``google-re2``), whose matching takes time
linear in the id whatever the pattern: ``(a+)+$`` cannot hang a process. RE2 has no
backreferences or lookarounds; a pattern that needs them is refused at start-up, one line.

One rule for what an id means, everywhere (the import, SQLite, the mock, HTTP, MCP, Temporal's
workflow ids): two ids name the same order when they differ only in the case of their letters
(:meth:`OrderIdPattern.key`). The pattern decides which spellings are accepted; an import that
holds two spellings of one id is refused rather than merged.

Ids come from arguments, from a file or stdin (one per line, comments and blank lines skipped,
UTF-8 with or without a byte-order mark, lines of at most ``MAX_LINE_BYTES``), from URLs of
the HTTP service, and from a model's tool calls. A ``#`` starts a comment (the rest of the
line); when the pattern itself has a ``#`` (ids such as ``#W2611340``), only a ``#`` at the start
of a line or after a space, followed by a space or the end of the line, starts one.
"""

from __future__ import annotations

import itertools
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

import re2

from .values import shown

__all__ = [
    "DEFAULT_PATTERN",
    "MAX_ID_CHARS",
    "MAX_LINE_BYTES",
    "InvalidOrderId",
    "OrderIdPattern",
    "OrderIds",
    "parse_order_id",
    "source_name",
]

DEFAULT_PATTERN = r"ORD-[0-9]{1,12}"
MAX_ID_CHARS = 64
MAX_PATTERN_CHARS = 200
MAX_REPEAT = 1000  # RE2's bound on a counted repetition ({n}, {m,n})
_PLAIN = re.compile(r"[!-~]{1,%d}" % MAX_ID_CHARS)  # printable ASCII, no space
# A count RE2 cannot parse as one (too many digits) it takes as literal text: refused instead.
_COUNT = re.compile(r"(?<!\\)\{([0-9]+)(?:,([0-9]*))?\}")
_COMMENT = re.compile("#")
_COMMENT_SPACED = re.compile(r"(?:^|(?<=\s))#(?=\s|$)")


def _re2_options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own line on stderr for every refusal
    options.case_sensitive = case_sensitive
    return options


def _compile(regex: str, case_sensitive: bool) -> Any:
    for found in _COUNT.finditer(regex):
        if any(int(n) > MAX_REPEAT for n in found.groups() if n):
            raise InvalidPattern(f"repeats more than {MAX_REPEAT} times ({found.group()[:20]})")
    try:
        return re2.compile(regex, _re2_options(case_sensitive))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidPattern(
            f"is not a regular expression RE2 accepts ({str(reason)[:100]}); "
            "RE2 has no backreferences or lookarounds"
        ) from None


class InvalidOrderId(ValueError):
    """Not an order id; the message says what one looks like (and where, for a file)."""


class InvalidPattern(ValueError):
    """``ORDER_ID_PATTERN`` is unusable; the message says why."""


@dataclass(frozen=True)
class OrderIdPattern:
    """What an order id looks like. The default is case-insensitive and upper-cases ids;
    a configured pattern is matched as written."""

    regex: str = DEFAULT_PATTERN
    _compiled: Any = field(init=False, repr=False, compare=False)
    _any_case: Any = field(init=False, repr=False, compare=False)  # what a key may be

    def __post_init__(self) -> None:
        default = self.regex == DEFAULT_PATTERN
        if not self.regex or len(self.regex) > MAX_PATTERN_CHARS:
            raise InvalidPattern(f"must be 1 to {MAX_PATTERN_CHARS} characters")
        compiled = _compile(self.regex, case_sensitive=not default)
        if compiled.fullmatch(""):
            raise InvalidPattern("matches an empty id")
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_any_case", _compile(self.regex, case_sensitive=False))

    @property
    def is_default(self) -> bool:
        return self.regex == DEFAULT_PATTERN

    def describe(self) -> str:
        if self.is_default:
            return "expected ORD- followed by digits, e.g. ORD-1001"
        return f"expected an id matching ORDER_ID_PATTERN {self.regex!r}"

    def key(self, order_id: str) -> str:
        """What an id is compared by: two ids name one order when their keys are equal
        (ASCII letters of either case; ids are ASCII)."""
        return order_id.upper()

    def parse_key(self, raw: str) -> str:
        """An id's key as written where ids are named by it (a Temporal workflow id): some
        spelling of it is an id, or ``InvalidOrderId``. Nothing is stripped."""
        if not (
            _PLAIN.fullmatch(raw)
            and raw == self.key(raw)
            and self._any_case.fullmatch(raw) is not None
        ):
            raise InvalidOrderId(f"invalid order id {shown(raw)}: {self.describe()}")
        return raw

    def matches(self, candidate: str) -> bool:
        """Whether ``candidate`` is an id as written (no stripping, no length check)."""
        return self._compiled.fullmatch(candidate) is not None

    def parse(self, raw: str, *, strip: bool = True) -> str:
        """The id as the systems know it, or ``InvalidOrderId``. ``strip=False``:
        surrounding whitespace is refused too (in a URL it is a client's mistake)."""
        candidate = raw.strip() if strip else raw
        if not (_PLAIN.fullmatch(candidate) and self._compiled.fullmatch(candidate) is not None):
            # Cut after escaping: a control character is up to 10 characters escaped.
            raise InvalidOrderId(f"invalid order id {shown(raw)}: {self.describe()}")
        return candidate.upper() if self.is_default else candidate


DEFAULT = OrderIdPattern()


def parse_order_id(raw: str, *, strip: bool = True, pattern: OrderIdPattern = DEFAULT) -> str:
    """``ord-1001`` -> ``ORD-1001``; anything that is not an id by ``pattern`` is refused
    before it can reach a prompt (see :meth:`OrderIdPattern.parse`)."""
    return pattern.parse(raw, strip=strip)


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
        self,
        ids: Sequence[str],
        stream: BinaryIO | None = None,
        source: str = "",
        pattern: OrderIdPattern = DEFAULT,
    ) -> None:
        """The ids in ``ids``, then one per line of ``stream`` (blank lines and comments
        skipped). Everything is checked before this returns: the first bad one raises
        ``InvalidOrderId`` naming its line (``orders.txt, line 2: invalid order id …``)."""
        self._first = [pattern.parse(raw) for raw in ids]
        self.count = len(self._first)
        self._spool: IO[str] | None = None
        if stream is None:
            return
        self._spool = tempfile.TemporaryFile("w+", encoding="ascii")  # ids are ASCII
        comment = _COMMENT_SPACED if "#" in pattern.regex else _COMMENT
        try:
            for number, line in _lines(stream, source):
                text = comment.split(line, maxsplit=1)[0].strip()
                if not text:
                    continue
                try:
                    order_id = pattern.parse(text)
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
