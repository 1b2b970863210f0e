"""The words and patterns the answer check finds claims by (``answer_check``): months, date
forms, currencies, amounts, ids, counts, references, carriers, and statuses with the tool
statuses that support each."""

from __future__ import annotations

import re

__all__ = [
    "as_ascii",
    "CARRIER",
    "CURRENCY",
    "DATES",
    "DENIED",
    "ITEMS",
    "MONEY",
    "MONTHS",
    "NOT_YET",
    "ORDER_ID",
    "order_ids",
    "REFERENCE",
    "SKU",
    "STATUS",
    "STATUS_SUPPORT",
    "SYMBOLS",
    "UNITS",
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
# (pattern, what its groups are, whether day and month may be the other way round)
DATES = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), ("y", "m", "d"), False),
    (re.compile(rf"\b({_MONTH})\.?\s+{_DAY}\b(?:,?\s+(\d{{4}})\b)?", re.I), ("M", "d", "y"), False),
    (
        re.compile(rf"\b{_DAY}\s+(?:of\s+)?({_MONTH})\b\.?(?:,?\s+(\d{{4}})\b)?", re.I),
        ("d", "M", "y"),
        False,
    ),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"), ("m", "d", "y"), True),
]
_CODES = "USD|EUR|GBP|CAD|AUD|JPY|CHF|CNY|INR|SEK|NOK|DKK|NZD|MXN|BRL|SGD|HKD|ZAR|PLN"
CURRENCY = re.compile(_CODES)
SYMBOLS = {"$": None, "€": "EUR", "£": "GBP", "¥": "JPY"}
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
MONEY = [
    re.compile(rf"(?P<sym>[$€£¥])\s?(?P<amt>{_NUMBER})(?:\s?(?P<code>{_CODES})\b)?"),
    re.compile(rf"\b(?P<amt>{_NUMBER})\s?(?P<code>{_CODES})\b"),
    re.compile(rf"\b(?P<code>{_CODES})\s?(?P<amt>{_NUMBER})\b"),
]
ORDER_ID = re.compile(r"\bORD-\d{1,12}\b", re.I)


def order_ids(pattern: str | None) -> re.Pattern[str]:
    """Order ids in text: a configured pattern as written (unanchored), else ``ORDER_ID``."""
    return re.compile(pattern) if pattern else ORDER_ID


SKU = re.compile(r"\bSKU-[A-Z0-9][A-Z0-9-]*\b", re.I)
UNITS = re.compile(r"\b(\d{1,9})\s+units?\b", re.I)
ITEMS = re.compile(r"\bitems?:\s*(\d{1,9})\b|\b(\d{1,9})\s+items?\b", re.I)
# Long letter-and-digit tokens, or 12 digits and more: tracking numbers (UPS 1Z…, FedEx's
# 12 digits, USPS's 20–22) and other references a tool may return.
REFERENCE = re.compile(r"\b(?:(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{10,40}|\d{12,40})\b", re.I)
# Acronyms only in capitals ("follow-ups" names no carrier), names in any case.
CARRIER = re.compile(
    r"(?<![\w-])(?:UPS|USPS|DHL|DPD|GLS|(?i:FedEx|Royal Mail|Canada Post|OnTrac))\b"
)
# A status phrase and the tool statuses that support it.
STATUS_SUPPORT = {
    "out for delivery": {"out_for_delivery"},
    "in transit": {"in_transit", "shipped", "out_for_delivery"},
    "shipped": {"shipped", "in_transit", "out_for_delivery", "delivered"},
    "delivered": {"delivered"},
    "processing": {"processing"},
    "pending": {"pending"},
    "cancelled": {"cancelled", "canceled"},
    "canceled": {"cancelled", "canceled"},
    "returned": {"returned"},
    "authorized": {"authorized", "authorised"},
    "captured": {"captured"},
    "refunded": {"refunded"},
    "failed": {"failed"},
    "out of stock": {"out_of_stock"},
    "low stock": {"low_stock"},
    "in stock": {"in_stock", "low_stock"},
    "not stocked": {"not_stocked"},
}
STATUS = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, STATUS_SUPPORT), key=len, reverse=True)) + r")\b",
    re.I,
)
# A status that is denied ("has not shipped", "hasn't been delivered") or not yet a fact ("will
# be delivered", "once it's delivered", "expected to be captured") claims nothing.
DENIED = re.compile(r"(?:\b(?:not|never|no|yet to be)|n['’]t)\s+(?:\S+\s+){0,2}$", re.I)
NOT_YET = re.compile(
    r"\b(?:will|would|should|could|can|may|might|once|when|whenever|if|unless|until|before|"
    r"expected to|to be)\s+(?:\S+\s+){0,5}$",
    re.I,
)


# With re.I, Python's patterns equate four non-ASCII letters with ASCII ones (the long s, the
# dotless and the dotted capital i, the Kelvin sign): a word matched with them is that word.
_RE_I_EQUIVALENTS = str.maketrans({"ſ": "s", "ı": "i", "İ": "I", "\u212a": "K"})


def as_ascii(matched: str) -> str:
    """What ``re.I`` matched, with those four letters as the ASCII ones they matched as."""
    return matched.translate(_RE_I_EQUIVALENTS)
