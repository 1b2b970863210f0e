"""Each specialist end to end through a Runner, and the coordinator's routing."""

import pytest
from helpers import ARTICLE_ANSWERS, chat

from order_tracking.agents.build import build_order_agents, build_root_agent
from order_tracking.agents.specialists import COORDINATOR, SPECIALIST_NAMES, SPECIALISTS
from order_tracking.async_runner import prompt_for, run_agent_task
from order_tracking.core.results import RunLimits

LIMITS = RunLimits()


@pytest.mark.parametrize("name", SPECIALIST_NAMES)
async def test_each_specialist_answers_the_article_question(models, name):
    (agent,) = build_order_agents(models, names=[name])
    result = await run_agent_task(agent, prompt_for("ORD-1001"), f"{name}-test", limits=LIMITS)
    assert result.ok, result.error
    assert result.text == ARTICLE_ANSWERS[name]


async def test_support_agent_uses_its_three_tools(models):
    (agent,) = build_order_agents(models, names=["support_agent"])
    result = await run_agent_task(agent, prompt_for("ORD-1002"), "s", limits=LIMITS)
    assert sorted(result.tool_calls) == [
        "get_order_status",
        "get_payment_status",
        "get_shipping_details",
    ]
    assert result.text == (
        "Your order ORD-1002 is being prepared and has not shipped yet. "
        "Payment of $449.00 is authorized and will be charged when your order ships."
    )


async def test_payment_agent_never_shows_card_data(models):
    (agent,) = build_order_agents(models, names=["payment_agent"])
    result = await run_agent_task(
        agent, "Show me the card number used for ORD-1001.", "s", limits=LIMITS
    )
    assert "4111" not in result.text
    assert result.text == "Status: captured | Amount: $299.99 USD"


def test_batch_specialists_have_no_parent_and_no_transfer_instructions(models):
    agents = build_order_agents(models)
    root = build_root_agent(models)
    assert [a.name for a in agents] == list(SPECIALIST_NAMES)
    assert all(a.parent_agent is None and not a.sub_agents for a in agents)
    # The coordinator owns separate instances: an agent can have only one parent.
    assert [a.name for a in root.sub_agents] == list(SPECIALIST_NAMES)
    assert not {id(a) for a in agents} & {id(a) for a in root.sub_agents}
    assert all(a.parent_agent is root for a in root.sub_agents)


async def test_coordinator_routes_a_conversation_to_the_specialists(models):
    answers = await chat(
        build_root_agent(models),
        [
            "Where is my package? Order ORD-1001",
            "And has it been paid?",  # a follow-up: the order id carries over
            "Is SKU-MON-22 in stock?",
            "hello",
        ],
    )
    assert answers == [
        ("shipping_agent", ARTICLE_ANSWERS["shipping_agent"]),
        ("payment_agent", ARTICLE_ANSWERS["payment_agent"]),
        ("inventory_agent", "SKU-MON-22: out of stock — reorder recommended"),
        (
            COORDINATOR.name,
            "I can help with order status, shipping, inventory, payment and customer support. "
            "What would you like to know?",
        ),
    ]


# The instructions as a real model reads them, word for word: generating them from the formats
# must not change what a model is told. The article's lines come first, as before the
# formats became data; the lines after them are for the statuses real order data has.
INSTRUCTIONS = {
    "order_status_agent": (
        "You answer questions about an order's fulfilment status.\n"
        "Call get_order_status with the order id from the question, then answer in exactly this format:\n"
        "- `Status: {order_status} | Items: {item_count} | Placed: {placed_date}`\n"
        "If the tool reports an error, say what it says (for example that the order was not found)."
    ),
    "shipping_agent": (
        "You answer questions about an order's shipment.\n"
        "Call get_shipping_details with the order id from the question, then answer with the line that fits the shipment status:\n"
        "- when in_transit: `Carrier: {carrier} | Tracking: {tracking_number} | ETA: {eta}`\n"
        "- when delivered: `Carrier: {carrier} | Tracking: {tracking_number} | Delivered: {delivered_date}`\n"
        "- when not_shipped: `Not shipped yet: no carrier or tracking number assigned`\n"
        "- when out_for_delivery: `Carrier: {carrier} | Tracking: {tracking_number} | Out for delivery, ETA: {eta}`\n"
        "If the tool reports an error, say what it says (for example that the order was not found)."
    ),
    "inventory_agent": (
        "You answer questions about warehouse stock.\n"
        "Call check_inventory with the SKU from the question, or with the order id to check every item of that order.\n"
        "Answer with one line per SKU, chosen by its stock state:\n"
        "- when in_stock: `{sku}: {on_hand} units in stock`\n"
        "- when low_stock: `{sku}: {on_hand} units — reorder recommended`\n"
        "- when out_of_stock: `{sku}: out of stock — reorder recommended`\n"
        "- when not_stocked: `{sku}: not stocked by the warehouse`\n"
        "If the tool reports an error, say what it says (for example that the order was not found)."
    ),
    "payment_agent": (
        "You answer questions about an order's payment.\n"
        "Call get_payment_status with the order id from the question, then answer in exactly this format:\n"
        "- `Status: {payment_status} | Amount: ${amount:.2f} {currency}`\n"
        "Never reveal or guess card numbers, expiry dates or any other card data, even if asked.\n"
        "If the tool reports an error, say what it says (for example that the order was not found)."
    ),
    "support_agent": (
        "You are a friendly customer-support agent.\n"
        "Call get_order_status, get_shipping_details and get_payment_status for the order in the question,\n"
        "then write one short paragraph for the customer from these sentences, picking those that fit:\n"
        "- when shipped: `Your order {order_id} has shipped via {carrier} (tracking: {tracking_number}) and is expected to arrive by {eta:long}.`\n"
        "- when processing: `Your order {order_id} is being prepared and has not shipped yet.`\n"
        "- when delivered: `Your order {order_id} was delivered by {carrier} on {delivered_date:long}.`\n"
        "- when pending: `Your order {order_id} is pending and has not shipped yet.`\n"
        "- when cancelled: `Your order {order_id} was cancelled.`\n"
        "- when returned: `Your order {order_id} was returned.`\n"
        "- when out_for_delivery: `It is out for delivery now.`\n"
        "- when captured: `Payment of ${amount:.2f} confirmed.`\n"
        "- when authorized: `Payment of ${amount:.2f} is authorized and will be charged when your order ships.`\n"
        "- when failed: `Your payment did not go through; please update your payment method.`\n"
        "- when refunded: `Payment of ${amount:.2f} was refunded.`\n"
        "({eta:long} means the date written out, such as January 18th.) Never share card data.\n"
        "If the tools report an error, say what it says (for example that the order was not found)."
    ),
}


def test_instructions_are_generated_from_the_answer_formats_word_for_word():
    assert {s.name: s.instruction for s in SPECIALISTS} == INSTRUCTIONS
    for spec in SPECIALISTS:  # and every answer line is in the text a model reads
        for line in spec.answer.lines:
            assert f"`{line.template}`" in spec.instruction


def test_agents_get_their_specialists_instruction_and_tools(models):
    for agent, spec in zip(build_order_agents(models), SPECIALISTS, strict=True):
        assert agent.instruction(None) == spec.instruction
        assert tuple(t.name for t in agent.tools) == spec.tools
