"""The answer check's labelled set: answers written the ways models write them, each correct
(``None``) or with exactly one planted error of a claim kind, against fixed tool results; and
the precision and recall per claim kind the check reaches on them (``score``, printed by the
suite's terminal summary and recorded in docs/answer-check.md)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from order_tracking.answers.check import check_answer

ORDER = {
    "status": "success", "order_id": "ORD-1001", "order_status": "shipped", "placed_date": "2024-01-15",
    "item_count": 2, "items": [{"sku": "SKU-APL-01", "name": "Apple Watch", "quantity": 1},
                               {"sku": "SKU-KBD-07", "name": "Keyboard", "quantity": 1}],
}  # fmt: skip
SHIPMENT = {
    "status": "success", "order_id": "ORD-1001", "shipment_status": "in_transit", "carrier": "UPS",
    "tracking_number": "1Z999AA1012345678", "shipped_date": "2024-01-16", "eta": "2024-01-18",
}  # fmt: skip
PAYMENT = {"status": "success", "order_id": "ORD-1001", "payment_status": "captured", "amount": 299.99,
           "currency": "USD"}  # fmt: skip
STOCK = {"status": "success", "items": [
    {"sku": "SKU-APL-01", "on_hand": 150, "stock_state": "in_stock", "reorder_recommended": False},
    {"sku": "SKU-KBD-07", "on_hand": 8, "stock_state": "low_stock", "reorder_recommended": True},
]}  # fmt: skip
SHIPPED = [ORDER, SHIPMENT, PAYMENT, STOCK]
# The same order with its payment in another state.
PAYMENTS = {
    status: [ORDER, SHIPMENT, {**PAYMENT, "payment_status": status}, STOCK]
    for status in ("refunded", "failed", "charged_back", "voided")
}
FACTS = {"shipped": SHIPPED, **PAYMENTS}

# (facts, answer, planted error kind or None). The first block is the original set.
CASES: list[tuple[str, str, str | None]] = [
    ("shipped", text, None)
    for text in [
        "Status: shipped | Items: 2 | Placed: 2024-01-15",
        "Your order shipped; it has 2 items and was placed on January 15th, 2024.",
        "Order ORD-1001 was placed 15 Jan 2024 and is in transit.",
        "Carrier: UPS | Tracking: 1Z999AA1012345678 | ETA: 2024-01-18",
        "It's with UPS (tracking 1z999aa1012345678), arriving Jan 18.",
        "Expected delivery: 01/18/2024 via UPS.",
        "The parcel left on the 16th of January and should arrive on the 18th of January.",
        "Status: captured | Amount: $299.99 USD",
        "Payment captured: USD 299.99.",
        "You were charged $299.99.",
        "SKU-APL-01: 150 units in stock\nSKU-KBD-07: 8 units — reorder recommended",
        "We have 150 units of SKU-APL-01 in stock.",
        (
            "Your order ORD-1001 has shipped via UPS (tracking: 1Z999AA1012345678) and is expected "
            "to arrive by January 18th. Payment of $299.99 confirmed."
        ),
        "Good news: ORD-1001 is on its way with UPS and should be there by 18 January 2024.",
        "Thanks for your patience! Your order is in transit.",
        "It hasn't been delivered yet; it should be delivered by January 18th.",
        "It isn’t delivered yet, and it can't be cancelled now that it has shipped.",
        "Once it's delivered, you can return it; if it's returned, you will be refunded.",
        "The parcel is expected to be out for delivery on the 18th.",
        "Let me know if you have any follow-ups!",
    ]
] + [
    ("shipped", "Carrier: UPS | Tracking: 1Z999AA1012345679 | ETA: 2024-01-18", "reference"),
    ("shipped", "Tracking number 9400111899223817462987, arriving January 18th.", "reference"),
    ("shipped", "Carrier: UPS | Tracking: 1Z999AA1012345678 | ETA: 2024-01-19", "date"),
    ("shipped", "It should arrive on January 20th.", "date"),
    ("shipped", "Placed on 2024-01-14.", "date"),
    ("shipped", "Status: captured | Amount: $299.90 USD", "amount"),
    ("shipped", "Status: captured | Amount: $299.99 EUR", "amount"),
    ("shipped", "You paid €299.99.", "amount"),
    ("shipped", "Payment of $199.99 confirmed.", "amount"),
    ("shipped", "Status: delivered | Items: 2 | Placed: 2024-01-15", "status"),
    ("shipped", "Your payment was refunded.", "status"),
    ("shipped", "The order was cancelled.", "status"),
    ("shipped", "SKU-APL-01: 15 units in stock", "stock"),
    ("shipped", "Status: shipped | Items: 3 | Placed: 2024-01-15", "items"),
    ("shipped", "SKU-KBD-07: 150 units — reorder recommended", "stock"),
    ("shipped", "SKU-APL-01: 0 units in stock", "stock"),  # the reorder flag's False is no count
    ("shipped", "It hasn't shipped yet, but it was delivered yesterday.", "status"),
    ("shipped", "Your order ORD-1002 has shipped via UPS.", "order_id"),
    ("shipped", "Your order is on its way with FedEx.", "carrier"),
    ("shipped", "SKU-MON-27: 150 units in stock", "sku"),
]
# 1. Stock counts without "units": a number attached to a SKU is that SKU's count.
CASES += [("shipped", text, None) for text in [
    "SKU-APL-01: 150 in stock",
    "There are 150 of SKU-APL-01 on hand.",
    "SKU-APL-01 → 150\nSKU-KBD-07 → 8",
    "Only 8 left of SKU-KBD-07.",
    "SKU-KBD-07 is running low: only 8 left.",
    "SKU-APL-01 (150 on hand), SKU-KBD-07 (8 on hand).",
    "SKU-APL-01 has 150 available; SKU-KBD-07 has 8 remaining.",
    "SKU-APL-01 = 150, SKU-KBD-07 = 8",
    "We have more than 100 units of SKU-APL-01.",
]] + [("shipped", text, "stock") for text in [
    "SKU-APL-01: 510 in stock",
    "There are 157 of SKU-APL-01 on hand.",
    "SKU-APL-01 → 15",
    "SKU-KBD-07 is running low: only 30 left.",
    "SKU-APL-01 (8 on hand)",
    "SKU-APL-01 has 150 available; SKU-KBD-07 has 80 remaining.",
    "SKU-KBD-07 = 150",
]]  # fmt: skip
# 2. A count matches its own field: item counts against the order's lines or total quantity.
CASES += [("shipped", text, None) for text in [
    "ORD-1001 contains 2 items.",
    "Your order's two items were placed on January 15th.",
    "Your order has 2 products: 1 x SKU-APL-01 and 1 x SKU-KBD-07.",
    "It has 2 line items and was placed on January 15th.",
    "SKU-APL-01 (qty 1) and SKU-KBD-07 (qty 1), 2 units in total.",
]] + [("shipped", text, "items") for text in [
    "ORD-1001 contains 3 items.",  # a stock level elsewhere is 3: not this field
    "Your order's three items shipped with UPS.",
    "Your order has 8 products.",  # SKU-KBD-07's stock level is 8: not this field
    "It has 150 line items.",
    "2 x SKU-APL-01 and 1 x SKU-KBD-07.",
    "A total of 8 units were ordered.",
]] + [
    ("shipped", "You were charged $150.00.", "amount"),
    ("shipped", "There are 299 units of SKU-APL-01 in stock.", "stock"),
]  # fmt: skip
# 3. Money moving is a payment status.
CASES += [
    ("refunded", "The refund of $299.99 has been issued.", None),
    ("refunded", "Your refund was processed; it was refunded to your card.", None),
    ("failed", "The payment failed.", None),
    ("failed", "Your card was declined.", None),
    ("charged_back", "The payment was charged back by your bank.", None),
    ("voided", "The authorization was voided.", None),
    ("shipped", "No refund has been issued.", None),
    ("shipped", "A refund will be issued if you return it.", None),
    ("shipped", "The refund of $299.99 has been issued.", "status"),
    ("shipped", "Your refund has been processed.", "status"),
    ("shipped", "The payment was charged back.", "status"),
    ("shipped", "The payment was voided.", "status"),
    ("shipped", "The payment failed.", "status"),
    ("failed", "Your payment was captured.", "status"),
    ("refunded", "Your card was declined.", "status"),
    ("voided", "It was charged back.", "status"),
]
# 4. Structured answers: the tool's JSON, a table, key: value lines, read by their keys.
_JSON = '{"order_id": "ORD-1001", "payment_status": "captured", "amount": %s, "currency": "%s"}'
CASES += [
    ("shipped", _JSON % ("299.99", "USD"), None),
    ("shipped", "```json\n" + _JSON % ("299.99", "USD") + "\n```", None),
    ("shipped", "{'order_id': 'ORD-1001', 'eta': '2024-01-18', 'carrier': 'UPS'}", None),
    (
        "shipped",
        (
            '{"items": [{"sku": "SKU-APL-01", "on_hand": 150, "reorder_recommended": '
            'false}, {"sku": "SKU-KBD-07", "on_hand": 8}]}'
        ),
        None,
    ),
    (
        "shipped",
        (
            "| SKU | On hand | State |\n|---|---|---|\n| SKU-APL-01 | 150 | in stock |\n"
            "| SKU-KBD-07 | 8 | low stock |"
        ),
        None,
    ),
    (
        "shipped",
        (
            "| Field | Value |\n|---|---|\n| Carrier | UPS |\n| Tracking | "
            "1Z999AA1012345678 |\n| ETA | January 18, 2024 |"
        ),
        None,
    ),
    ("shipped", "- **Status:** captured\n- **Amount:** 299.99\n- **Currency:** USD", None),
    ("shipped", "order_status: shipped\nitem_count: 2\nplaced_date: 2024-01-15", None),
    ("shipped", _JSON % ("349.99", "USD"), "amount"),
    ("shipped", "```json\n" + _JSON % ("299.99", "EUR") + "\n```", "currency"),
    (
        "shipped",
        '{"order_id": "ORD-1001", "payment_status": "refunded", "amount": 299.99}',
        "status",
    ),
    ("shipped", '{"items": [{"sku": "SKU-APL-01", "on_hand": 510}]}', "stock"),
    ("shipped", '{"items": [{"on_hand": 8, "sku": "SKU-APL-01"}]}', "stock"),
    ("shipped", '{"order_id": "ORD-1001", "item_count": 3}', "items"),
    ("shipped", "{'order_id': 'ORD-1001', 'eta': '2024-01-19', 'carrier': 'UPS'}", "date"),
    ("shipped", "| SKU | On hand |\n|---|---|\n| SKU-APL-01 | 150 |\n| SKU-KBD-07 | 9 |", "stock"),
    (
        "shipped",
        "| Field | Value |\n|---|---|\n| Carrier | Purolator |\n| ETA | 2024-01-18 |",
        "carrier",
    ),
    (
        "shipped",
        (
            "| Field | Value |\n|---|---|\n| Tracking | 1Z999AA1012345678 |\n| ETA | "
            "January 19, 2024 |"
        ),
        "date",
    ),
    ("shipped", "- **Status:** captured\n- **Amount:** 349.99\n- **Currency:** USD", "amount"),
    ("shipped", "Carrier: UPS\nTracking: ABC123\nETA: 2024-01-18", "reference"),
    ("shipped", "Shipped: 2024-01-18\nETA: 2024-01-18", "date"),  # the ETA is not shipped_date
]
# Look-alike letters and hyphens (issue 22): invented values must not hide behind them.
CASES += [
    ("shipped", "Carrier: UРS | Tracking: 1Z999AA1012345678", None),  # Cyrillic Р, correct
    ("shipped", "Your order ОRD‐1001 is in transit with ＵＰＳ.", None),
    ("shipped", "Your order is on its way with FеdЕx.", "carrier"),
    ("shipped", "Tracking: 1Z999АА1099999999", "reference"),
    ("shipped", "It should arrive on Jаnuary 21st.", "date"),
    ("shipped", "Status: dеlivеrеd", "status"),
    ("shipped", "Your order ORD‐1002 has shipped.", "order_id"),
    ("shipped", "Amount: $2\u200b99.90 USD", "amount"),
    ("shipped", "Arriving 2024‐01‐21.", "date"),
]

FRAMES = ["{}", "Hello! {}", "{} Anything else I can help with?", "Update — {}", "{} Thanks."]
BLOCK_FRAMES = ["{}", "Hello!\n\n{}", "{}\n\nAnything else I can help with?",
                "Here you go:\n{}", "{}\n\nThanks."]  # fmt: skip


def labelled() -> list[tuple[str, str, str | None]]:
    """Every case in five frames (a greeting, a closing line…): (facts, answer, kind)."""
    out = []
    for facts, text, kind in CASES:
        block = "\n" in text or text.startswith(("{", "|"))
        for frame in BLOCK_FRAMES if block else FRAMES:
            out.append((facts, frame.format(text), kind))
    return out


@dataclass(frozen=True)
class Row:
    kind: str
    planted: int
    caught: int
    flagged: int  # answers with an unsupported claim of this kind

    @property
    def recall(self) -> float | None:
        return self.caught / self.planted if self.planted else None

    @property
    def precision(self) -> float | None:
        return self.caught / self.flagged if self.flagged else None


@dataclass(frozen=True)
class Score:
    correct: int
    false_alarms: list[str]
    planted: int
    missed: list[str]
    wrong_kind: list[tuple[str, str]]
    rows: list[Row]

    def table(self) -> str:
        lines = [
            (
                f"answer check on the labelled set: {self.correct} correct answers, "
                f"{len(self.false_alarms)} false alarms; {self.planted} planted errors, "
                f"{self.planted - len(self.missed)} caught"
            ),
            (
                f"{'claim kind':<12} {'planted':>7} {'caught':>6} {'flagged':>7} "
                f"{'recall':>6} {'precision':>9}"
            ),
        ]
        for row in self.rows:
            recall = "—" if row.recall is None else f"{row.recall:.2f}"
            precision = "—" if row.precision is None else f"{row.precision:.2f}"
            lines.append(
                f"{row.kind:<12} {row.planted:>7} {row.caught:>6} {row.flagged:>7} "
                f"{recall:>6} {precision:>9}"
            )
        return "\n".join(lines)


def score() -> Score:
    """The check on every labelled answer: false alarms, misses, and per claim kind the
    planted errors caught (an unsupported claim of that kind) and the answers flagged."""
    planted, caught, flagged = Counter(), Counter(), Counter()
    false_alarms, missed, wrong_kind, correct = [], [], [], 0
    for facts, text, kind in labelled():
        verdict = check_answer(text, FACTS[facts], order_id="ORD-1001")
        kinds = {c.kind for c in verdict.unsupported}
        flagged.update(kinds)
        if kind is None:
            correct += 1
            if not verdict.verified:
                false_alarms.append(text)
            continue
        planted[kind] += 1
        if verdict.verified:
            missed.append(text)
        if kind in kinds:
            caught[kind] += 1
        else:
            wrong_kind.append((text, kind))
    rows = [Row(k, planted[k], caught[k], flagged[k]) for k in sorted(planted | flagged)]
    return Score(correct, false_alarms, sum(planted.values()), missed, wrong_kind, rows)
