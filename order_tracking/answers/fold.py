"""An answer's text as the check reads it: look-alike letters folded to the ASCII letters they
imitate, cut to a bounded length, as Latin-1 bytes for the linear-time patterns of
``patterns``, with a map back to the text as written.

What a character becomes, in this order (each result cached per character; linear time):

- ASCII stays as it is (the common case: such a text is not copied, only encoded);
- a decimal digit of any script is its ASCII digit (``٣`` -> ``3``);
- spaces of any kind are a space, line and paragraph separators a line break; format
  characters (zero-width spaces and joiners, soft hyphens, direction marks) and control
  characters are dropped, since they are invisible: ``UP\\u200bS`` is ``UPS``;
- a few symbols the patterns look for get a one-byte stand-in (``€``, arrows, the em dash,
  curly quotes);
- compatibility forms and accents: the NFKD decomposition without combining marks, so
  ``ＵＰＳ``, ``𝐔𝐏𝐒``, ``ſ`` (long s), ``K`` (Kelvin sign), ``İ`` and ``é`` read as ``UPS``,
  ``s``, ``K``, ``I`` and ``e``;
- a letter from another script that looks like an ASCII one is that one, by Unicode's own
  table of confusables (UTS #39 ``confusables.txt``, shipped in the ``confusable-homoglyphs``
  package): Cyrillic ``Р``, ``А``, ``Ј``, ``е`` read as ``P``, ``A``, ``J``, ``e``; the
  hyphens U+2010/U+2011, the en dash and the minus sign as ``-``. Where the table's prototype
  is ``l`` for a capital letter (Cyrillic ``І``, ``Ӏ``), it is ``I``: a capital that looks
  like both is read as the capital;
- anything else is one neutral byte that no pattern matches.

Markdown's bold and code marks (``**``, ``__``, backticks) read as spaces.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["ARROW", "EM_DASH", "EURO", "MAX_CHECKED_CHARS", "Folded", "fold"]

MAX_CHECKED_CHARS = 32_768  # an agent's answer is a few lines; past this, the rest is unchecked
EURO, ARROW, EM_DASH, OTHER = "\x80", "\x81", "\x82", "\x9f"  # stand-ins (C1 controls)
_STAND_INS = {
    "€": EURO,
    "→": ARROW,
    "⇒": ARROW,
    "➔": ARROW,
    "➜": ARROW,
    "⟶": ARROW,
    "—": EM_DASH,
    "•": "*",
    "◦": "*",
    "▪": "*",
    "‣": "*",
    "―": EM_DASH,
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
}
# Latin-1 characters the patterns read as they are (currencies, the multiplication sign).
_KEPT = frozenset("£¥×")


@dataclass(frozen=True)
class Folded:
    """``data``: the folded text (one byte a character, Latin-1); ``origin``: for each byte,
    where its character is in the text as written (``None``: the same place); ``cut``:
    whether the text was longer than ``MAX_CHECKED_CHARS`` (only that much was folded)."""

    data: bytes
    origin: tuple[int, ...] | None
    cut: bool
    length: int  # of the text as written (before any cut)

    def where(self, start: int, end: int) -> tuple[int, int]:
        """The span in the text as written of the folded bytes ``start:end``."""
        if self.origin is None:
            return start, end
        if start >= len(self.origin):
            return self.length, self.length
        last = self.origin[end - 1] + 1 if end > start else self.origin[start]
        return self.origin[start], last


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Unicode's confusables (UTS #39) as character -> ASCII prototype, for the characters
    whose prototype is printable ASCII of at most three characters."""
    path = resources.files("confusable_homoglyphs") / "confusables.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for char, homoglyphs in table.items():
        if char.isascii() or len(char) != 1:
            continue
        prototype = homoglyphs[0]["c"] if len(homoglyphs) == 1 else ""
        if prototype.isascii() and prototype.isprintable() and 0 < len(prototype) <= 3:
            out[char] = prototype
    return out


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """What one non-ASCII character reads as (see the module's docstring)."""
    if char in _STAND_INS:
        return _STAND_INS[char]
    if char in _KEPT:
        return char
    category = unicodedata.category(char)
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    if category in ("Cf", "Cc", "Mn", "Me"):
        return ""
    decomposed = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    )
    if decomposed != char:
        return "".join(c if c.isascii() else _fold_char(c) for c in decomposed)
    prototype = _confusables().get(char)
    if prototype is not None:
        return "I" if prototype == "l" and category == "Lu" else prototype
    return OTHER


def fold(text: str) -> Folded:
    """``text`` as the check reads it (at most ``MAX_CHECKED_CHARS`` of it)."""
    cut = len(text) > MAX_CHECKED_CHARS
    head = text[:MAX_CHECKED_CHARS] if cut else text
    if head.isascii():
        return Folded(_ascii_controls(head.encode("ascii")), None, cut, len(text))
    pieces: list[str] = []
    origin: list[int] = []
    same_length = True
    for index, char in enumerate(head):
        if char.isascii():
            folded = char
        else:
            folded = _fold_char(char)
            same_length = same_length and len(folded) == 1
        pieces.append(folded)
        if not same_length:
            origin.extend([index] * len(folded))
        else:
            origin.append(index)
    data = _ascii_controls("".join(pieces).encode("latin-1"))
    return Folded(data, None if same_length else tuple(origin), cut, len(text))


_CONTROLS = bytes(range(32)).translate(None, b"\t\n\r") + b"\x7f"
_BLANKED = bytes.maketrans(_CONTROLS, b" " * len(_CONTROLS))


def _ascii_controls(data: bytes) -> bytes:
    """ASCII control characters (other than tab and line breaks) as spaces, and markdown's
    emphasis and code marks (``**Status:**``, ```SKU-APL-01```) as spaces too: same length."""
    data = data.translate(_BLANKED)
    if b"**" in data or b"__" in data or b"`" in data:
        data = data.replace(b"**", b"  ").replace(b"__", b"  ").replace(b"`", b" ")
    return data
