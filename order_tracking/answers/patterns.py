"""The words and patterns the answer check finds claims by: months, date forms, currencies,
amounts, ids, counts, references, carriers, and statuses with the tool statuses that support
each.

Every pattern here runs on RE2 (``google-re2``), a linear-time engine: no input makes a match
backtrack, whatever the pattern (Python's ``re`` took ~36 s on 100 KB of ``111,111,…``). They
run on the folded answer (``fold``): Latin-1 bytes, one a character, look-alikes already read
as ASCII, so ``\\d``, ``\\s`` and ``\\b`` are the ASCII classes they look like. RE2 has no
lookarounds: a boundary that is not a word boundary is a consumed character in a group, and
a condition on a match (a reference has a letter and a digit) is checked on the match.
"""

from __future__ import annotations

from .engine import compile_bytes, named
from .fold import ARROW, EM_DASH, EURO

__all__ = [
    "CARRIER",
    "COMPARED",
    "CURRENCY",
    "CURRENCY_CODES",
    "DATES",
    "DATE_PARTS",
    "DENIED",
    "ITEMS",
    "MONEY",
    "MONTHS",
    "MOVEMENT",
    "NOT_YET",
    "NUMBER_WORDS",
    "OF_SKU",
    "ORDER_ID",
    "REFERENCE",
    "SEGMENT_END",
    "SKU",
    "SKU_COUNT",
    "STATUS",
    "STATUS_SUPPORT",
    "STOCK_COUNT",
    "SYMBOLS",
    "TIMES_SKU",
    "UNITS",
    "compile_bytes",
    "named",
]


MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# The date forms, one pattern: (form, what its three groups are, whether day and month may be
# the other way round). Alternative k is group 4k+1, its parts groups 4k+2 to 4k+4.
_DATE_FORMS = [
    (r"\b(\d{4})-(\d{2})-(\d{2})\b", ("y", "m", "d"), False),
    (r"\b(\d{4})/(\d{2})/(\d{2})\b", ("y", "m", "d"), False),
    (rf"\b({_MONTH})\.?\s{{1,3}}{_DAY}\b(?:,?\s{{1,3}}(\d{{4}})\b)?", ("M", "d", "y"), False),
    (
        rf"\b{_DAY}\s{{1,3}}(?:of\s{{1,3}})?({_MONTH})\b\.?(?:,?\s{{1,3}}(\d{{4}})\b)?",
        ("d", "M", "y"),
        False,
    ),
    (r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", ("m", "d", "y"), True),
    (r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b", ("d", "m", "y"), True),
]
DATES = compile_bytes("(?i)" + "|".join(f"({form})" for form, _, _ in _DATE_FORMS))
DATE_PARTS = [(order, either_way) for _, order, either_way in _DATE_FORMS]
_CODES = "USD|EUR|GBP|CAD|AUD|JPY|CHF|CNY|INR|SEK|NOK|DKK|NZD|MXN|BRL|SGD|HKD|ZAR|PLN"
CURRENCY = compile_bytes(rf"(?:{_CODES})")
CURRENCY_CODES = frozenset(_CODES.split("|"))
SYMBOLS = {"$": None, EURO: "EUR", "£": "GBP", "¥": "JPY"}
_WORDS = {"dollar": None, "euro": "EUR", "pound": "GBP", "yen": "JPY"}
_SYM = rf"[$£¥{EURO}]"
# Grouped thousands, a decimal comma (``1.299,50``, ``299,99``), or plain digits.
_NUMBER = (
    r"\d{1,3}(?:,\d{3}){1,6}(?:\.\d{1,6})?|\d{1,3}(?:\.\d{3}){0,6},\d{2}\b|\d{1,15}(?:\.\d{1,6})?"
)
# Amounts, one pattern; group names end in the alternative's number (RE2 names each once).
MONEY = compile_bytes(
    rf"(?P<s0>{_SYM})\s?(?P<a0>{_NUMBER})(?:\s?(?P<c0>{_CODES})\b)?|"
    rf"\b(?P<a1>{_NUMBER})\s?(?:(?P<c1>{_CODES})\b|(?P<s1>{_SYM}))|"
    rf"\b(?P<c2>{_CODES})\s?(?P<a2>{_NUMBER})\b|"
    rf"(?i:\b(?P<a3>{_NUMBER})\s(?P<w3>dollar|euro|pound|yen)s?\b)"
)
WORD_CURRENCY = _WORDS
ORDER_ID = compile_bytes(r"(?i)\bORD-\d{1,12}\b")
SKU = compile_bytes(r"(?i)\bSKU-[A-Z0-9][A-Z0-9-]{0,40}\b")
# Long letter-and-digit tokens, or 12 digits and more: tracking numbers (UPS 1Z…, FedEx's
# 12 digits, USPS's 20–22) and other references a tool may return (``check`` keeps a token
# with a letter and a digit, or of digits alone when it has 12 or more).
REFERENCE = compile_bytes(r"(?i)\b[A-Z0-9]{10,40}\b")
# Acronyms only in capitals ("follow-ups" names no carrier), names in any case; group 1.
CARRIER = compile_bytes(
    r"(?:^|[^\w-])(UPS|USPS|DHL|DPD|GLS|TNT|(?i:FedEx|Royal Mail|Canada Post|OnTrac|"
    r"Purolator|Hermes|Evri|Aramex|Yodel|Parcelforce|Chronopost|Colissimo|PostNL|LaserShip|"
    r"Australia Post|Deutsche Post|La Poste|Amazon Logistics))\b"
)
# A status phrase and the tool statuses that support it.
STATUS_SUPPORT = {
    "out for delivery": {"out_for_delivery"},
    "in transit": {"in_transit", "shipped", "out_for_delivery"},
    "on its way": {"in_transit", "shipped", "out_for_delivery"},
    "shipped": {"shipped", "in_transit", "out_for_delivery", "delivered"},
    "dispatched": {"shipped", "in_transit", "out_for_delivery", "delivered"},
    "delivered": {"delivered"},
    "processing": {"processing"},
    "pending": {"pending"},
    "cancelled": {"cancelled", "canceled"},
    "canceled": {"cancelled", "canceled"},
    "returned": {"returned"},
    "authorized": {"authorized", "authorised"},
    "authorised": {"authorized", "authorised"},
    "captured": {"captured"},
    # Money moving back or stopping is a payment status too.
    "refunded": {"refunded"},
    "charged back": {"charged_back", "chargeback"},
    "chargeback": {"charged_back", "chargeback"},
    "voided": {"voided", "void"},
    "failed": {"failed", "declined"},
    "declined": {"failed", "declined"},
    "out of stock": {"out_of_stock"},
    "low stock": {"low_stock"},
    "low on stock": {"low_stock"},
    "in stock": {"in_stock", "low_stock"},
    "not stocked": {"not_stocked"},
}
_PHRASES = sorted(STATUS_SUPPORT, key=len, reverse=True)
STATUS = compile_bytes(r"(?i)\b(" + "|".join(p.replace(" ", r"[\s-]") for p in _PHRASES) + r")\b")
# "the refund (of $299.99) has been issued": a refunded payment, claimed at the noun.
MOVEMENT = compile_bytes(
    r"(?i)\b(refund)s?\b[^;\n]{0,40}?\b(?:issued|processed|completed|sent|paid|credited|"
    r"approved|made)\b"
)
# A status that is denied ("has not shipped", "hasn't been delivered") or not yet a fact ("will
# be delivered", "once it's delivered", "expected to be captured") claims nothing.
DENIED = compile_bytes(r"(?i)(?:\b(?:not|never|no|yet to be)|n't)\s+(?:\S+\s+){0,2}$")
NOT_YET = compile_bytes(
    r"(?i)\b(?:will|would|should|could|can|may|might|once|when|whenever|if|unless|until|"
    r"before|expected to|to be|going to)\s+(?:\S+\s+){0,5}$"
)

# Counts. A number of units, stock words after a number, "N of SKU", "SKU: N" (and → = - ( |),
# "N x SKU" / "SKU × N" (a line of an order), and item counts of an order.
_N = r"\d{1,3}(?:,\d{3}){1,2}|\d{1,9}"
# Small counts in words (not "one": "one of the items" counts nothing).
NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        [
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ],
        start=2,
    )
}
_NW = rf"{_N}|(?i:{'|'.join(NUMBER_WORDS)})"
_SKU = r"SKU-[A-Z0-9][A-Z0-9-]{0,40}"
UNITS = compile_bytes(rf"(?i)\b({_NW})\s(?:units?|pcs|pieces)\b")
STOCK_COUNT = compile_bytes(
    rf"(?i)\b({_N})\s(?:(?:units?|pcs|pieces|items?)\s)?(?:(?:are|is)\s)?(?:still\s)?"
    r"(?:in[\s-]stock|on[\s-]hand|available|left|remaining|in\sthe\swarehouse|in\sinventory)\b"
)
OF_SKU = compile_bytes(rf"(?i)\b({_N})\s(?:(?:units?|pcs|pieces)\s)?of\s({_SKU})\b")
SKU_COUNT = compile_bytes(
    rf"(?i)\b({_SKU})\b\s{{0,3}}(?::|=|->|=>|{ARROW}|{EM_DASH}|-|\(|,)?\s{{0,3}}"
    rf"(?:(?:has|is\sat|at|stock(?:\slevel)?(?:\sis)?:?)\s{{1,3}})?({_N})\b"
)
TIMES_SKU = compile_bytes(
    rf"(?i)\b({_N})\s?[x×]\s?({_SKU})\b|\b({_SKU})\b\s?[x×]\s?({_N})\b|"
    rf"\b({_SKU})\b\s{{0,3}}\(?(?:qty|quantity)\s?:?\s?({_N})\b"
)
# An order's item count: lines ("2 products", "2 line items"), the total quantity ("3 units
# in total"), or either ("2 items", "Items: 2").
ITEMS = compile_bytes(
    rf"(?i)\bitems?:\s{{0,3}}({_N})\b|"
    rf"\b({_NW})\s(?:line\sitems?|products?|different\sitems?|distinct\sitems?|skus|lines)\b|"
    rf"\ba\stotal\sof\s({_N})\s(?:units?|items?|pieces)\b|"
    rf"\b({_N})\s(?:units?|items?|pieces)\s(?:in\s)?total\b|"
    rf"\b({_NW})\s(?:items?|articles?)\b"
)
# Words after an item count that make it a count of some items, not of the order's.
ITEMS_ARE = compile_bytes(r"(?i)^\s(?:is|are|was|were|of\s+them)\b")
# A bound, not a count: "more than 100", "over 100", "~100", "at least 100".
COMPARED = compile_bytes(
    r"(?i)(?:\b(?:more|fewer|less)\sthan|\bover|\bunder|\bat\s(?:least|most)|\babout|"
    r"\baround|\bapproximately|\broughly|\bnearly|\balmost|\bup\sto|[<>~])\s?$"
)
# Where a count's sentence or clause ends (a count belongs to a SKU in its own clause).
SEGMENT_END = compile_bytes(r"\n|[.!?](?:\s|$)|;|\|")
