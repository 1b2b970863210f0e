"""The five specialists of the article, as data: name, description, instruction, answer formats
and tools. ``build.py`` builds ADK agents from them; nothing here imports ADK.

To add a specialist, add a ``Specialist`` to ``SPECIALISTS`` (its tools, by name, live in
``"py"``):
the runner, the coordinator, the CLI, the service and the offline model all take it from here.

An instruction is generated from its parts, the answer formats among them: a real model reads
the formats as the lines to answer with; the offline model is handed the same formats as data
(see ``models/offline.py``) and fills them from tool results.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AGENT_NAMES",
    "ANSWER_FORMATS",
    "COORDINATOR",
    "SPECIALISTS",
    "SPECIALIST_NAMES",
    "AnswerFormat",
    "AnswerLine",
    "Specialist",
]


@dataclass(frozen=True)
class AnswerLine:
    """One line an answer is made of. ``template`` has ``{field}`` placeholders named after
    tool-result fields (``{amount:.2f}`` formats a number, ``{eta:long}`` writes a date out,
    "January 18th"); with ``when``, the line is for records in that state (``low_stock``)."""

    template: str
    when: str | None = None

    def render(self) -> str:
        label = f"when {self.when}: " if self.when else ""
        return f"- {label}`{self.template}`"


@dataclass(frozen=True)
class AnswerFormat:
    """How a specialist answers: its lines, one per line of the answer, or (``paragraph``)
    the lines that fit joined into one paragraph."""

    lines: tuple[AnswerLine, ...]
    paragraph: bool = False


@dataclass(frozen=True)
class Specialist:
    name: str
    description: str
    task: str  # the instruction before the answer lines
    answer: AnswerFormat
    rules: str  # the instruction after them
    tools: tuple[str, ...]  # names of tools in ``tools.py``

    @property
    def instruction(self) -> str:
        return "\n".join([self.task, *(line.render() for line in self.answer.lines), self.rules])


_ON_ERROR = (
    "If the tool reports an error, say what it says (for example that the order was not found)."
)

SPECIALISTS: tuple[Specialist, ...] = (
    Specialist(
        name="order_status_agent",
        description=(
            "Order status: whether an order is processing, shipped or delivered, "
            "when it was placed and which items it contains."
        ),
        task="You answer questions about an order's fulfilment status.\n"
        "Call get_order_status with the order id from the question, then answer in exactly "
        "this format:",
        answer=AnswerFormat(
            (AnswerLine("Status: {order_status} | Items: {item_count} | Placed: {placed_date}"),)
        ),
        rules=_ON_ERROR,
        tools=("get_order_status",),
    ),
    Specialist(
        name="shipping_agent",
        description=(
            "Shipping: the carrier, tracking number and delivery date or ETA of an "
            "order's package: where it is and when it will arrive."
        ),
        task="You answer questions about an order's shipment.\n"
        "Call get_shipping_details with the order id from the question, then answer with the "
        "line that fits the shipment status:",
        answer=AnswerFormat(
            (
                AnswerLine(
                    "Carrier: {carrier} | Tracking: {tracking_number} | ETA: {eta}", "in_transit"
                ),
                AnswerLine(
                    "Carrier: {carrier} | Tracking: {tracking_number} | Delivered: "
                    "{delivered_date}",
                    "delivered",
                ),
                AnswerLine(
                    "Not shipped yet: no carrier or tracking number assigned", "not_shipped"
                ),
                AnswerLine(
                    "Carrier: {carrier} | Tracking: {tracking_number} | Out for delivery, ETA: "
                    "{eta}",
                    "out_for_delivery",
                ),
            )
        ),
        rules=_ON_ERROR,
        tools=("get_shipping_details",),
    ),
    Specialist(
        name="inventory_agent",
        description=(
            "Inventory: warehouse stock on hand and reorder flags for a SKU or for the "
            "items of an order."
        ),
        task="You answer questions about warehouse stock.\n"
        "Call check_inventory with the SKU from the question, or with the order id to check "
        "every item of that order.\n"
        "Answer with one line per SKU, chosen by its stock state:",
        answer=AnswerFormat(
            (
                AnswerLine("{sku}: {on_hand} units in stock", "in_stock"),
                AnswerLine("{sku}: {on_hand} units — reorder recommended", "low_stock"),
                AnswerLine("{sku}: out of stock — reorder recommended", "out_of_stock"),
                AnswerLine("{sku}: not stocked by the warehouse", "not_stocked"),
            )
        ),
        rules=_ON_ERROR,
        tools=("check_inventory",),
    ),
    Specialist(
        name="payment_agent",
        description=(
            "Payment: whether an order has been paid (payment authorized, captured or "
            "failed), what it cost and the currency; never card numbers or other card data."
        ),
        task="You answer questions about an order's payment.\n"
        "Call get_payment_status with the order id from the question, then answer in exactly "
        "this format:",
        answer=AnswerFormat(
            (AnswerLine("Status: {payment_status} | Amount: ${amount:.2f} {currency}"),)
        ),
        rules="Never reveal or guess card numbers, expiry dates or any other card data, even "
        "if asked.\n" + _ON_ERROR,
        tools=("get_payment_status",),
    ),
    Specialist(
        name="support_agent",
        description=(
            "Customer support: a short, friendly summary for the customer of everything "
            "about an order: its status, delivery and payment."
        ),
        task="You are a friendly customer-support agent.\n"
        "Call get_order_status, get_shipping_details and get_payment_status for the order in "
        "the question,\n"
        "then write one short paragraph for the customer from these sentences, picking those "
        "that fit:",
        answer=AnswerFormat(
            (
                AnswerLine(
                    "Your order {order_id} has shipped via {carrier} (tracking: "
                    "{tracking_number}) and is expected to arrive by {eta:long}.",
                    "shipped",
                ),
                AnswerLine(
                    "Your order {order_id} is being prepared and has not shipped yet.",
                    "processing",
                ),
                AnswerLine(
                    "Your order {order_id} was delivered by {carrier} on {delivered_date:long}.",
                    "delivered",
                ),
                AnswerLine("Your order {order_id} is pending and has not shipped yet.", "pending"),
                AnswerLine("Your order {order_id} was cancelled.", "cancelled"),
                AnswerLine("Your order {order_id} was returned.", "returned"),
                AnswerLine("It is out for delivery now.", "out_for_delivery"),
                AnswerLine("Payment of ${amount:.2f} confirmed.", "captured"),
                AnswerLine(
                    "Payment of ${amount:.2f} is authorized and will be charged when your "
                    "order ships.",
                    "authorized",
                ),
                AnswerLine(
                    "Your payment did not go through; please update your payment method.",
                    "failed",
                ),
                AnswerLine("Payment of ${amount:.2f} was refunded.", "refunded"),
            ),
            paragraph=True,
        ),
        rules="({eta:long} means the date written out, such as January 18th.) Never share "
        "card data.\n"
        "If the tools report an error, say what it says (for example that the order was not "
        "found).",
        tools=("get_order_status", "get_shipping_details", "get_payment_status"),
    ),
)


@dataclass(frozen=True)
class Coordinator:
    name: str
    description: str
    instruction: str


COORDINATOR = Coordinator(
    name="coordinator_agent",
    description="Routes order questions to the specialist that answers them.",
    instruction="You are the order-tracking coordinator.\n"
    "You do not look anything up yourself: transfer each question to the specialist whose "
    "description fits it best.\n"
    "If a question fits no specialist, say briefly what you can help with.",
)

SPECIALIST_NAMES: tuple[str, ...] = tuple(s.name for s in SPECIALISTS)
AGENT_NAMES: tuple[str, ...] = (*SPECIALIST_NAMES, COORDINATOR.name)
# What the offline model is given (by agent name) to phrase answers with.
ANSWER_FORMATS: dict[str, AnswerFormat] = {s.name: s.answer for s in SPECIALISTS}
