"""Each specialist end to end through a Runner, and the coordinator's routing."""

import pytest
from helpers import ARTICLE_ANSWERS, chat

from order_tracking.agent import build_order_agents, build_root_agent
from order_tracking.async_runner import prompt_for, run_agent_task
from order_tracking.results import RunLimits
from order_tracking.specialists import COORDINATOR, SPECIALIST_NAMES

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
