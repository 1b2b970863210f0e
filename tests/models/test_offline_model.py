"""The offline model's policy (``decide``) and its LiteLLM provider surface."""

import ast
import json
from pathlib import Path

import litellm
import pytest

from order_tracking.agents.specialists import AnswerFormat, AnswerLine
from order_tracking.core.settings import OFFLINE_MODEL
from order_tracking.models import offline as offline_model
from order_tracking.models.offline import LATENCY_PARAM, OfflineModel, decide, register


def agent(name):
    """The line of ADK's instruction that tells a model which agent it is."""
    return {"role": "system", "content": f'You are an agent. Your internal name is "{name}".'}


def formats(*lines, paragraph=False):
    """One agent, ``me``, answering with these lines (``(when, template)`` or a template)."""
    answer_lines = tuple(
        AnswerLine(line) if isinstance(line, str) else AnswerLine(line[1], line[0])
        for line in lines
    )
    return {"me": AnswerFormat(answer_lines, paragraph)}


def tool(name, *params, required=None, enum=None):
    props = {p: {"type": "string"} for p in params}
    for p, values in (enum or {}).items():
        props[p]["enum"] = values
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": name,
            "parameters": {
                "type": "object",
                "properties": props,
                "required": list(params if required is None else required),
            },
        },
    }


def call(name, args, call_id):
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ],
    }


def result(call_id, payload):
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(payload)}


def test_it_never_imports_the_backends():
    """It may only know what a real model knows: no import of our package, however spelled."""
    tree = ast.parse(Path(offline_model.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            assert not (node.module or "").startswith("order_tracking")
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith(("order_tracking", "importlib")) for a in node.names)
        elif isinstance(node, ast.Name):
            assert node.id != "__import__"


def test_first_step_calls_the_tool_with_the_id_from_the_question():
    reply = decide(
        [{"role": "system", "content": "x"}, {"role": "user", "content": "Where is ord-1001 now?"}],
        [tool("get_shipping_details", "order_id")],
    )
    assert reply.tool_calls == (("get_shipping_details", {"order_id": "ORD-1001"}),)
    assert reply.text == ""


def test_all_callable_tools_go_out_together_and_optional_params_are_left_out():
    reply = decide(
        [{"role": "user", "content": "status of ORD-1002?"}],
        [tool("a", "order_id"), tool("b", "sku", "order_id", required=[]), tool("c", "sku")],
    )
    # c needs a SKU nobody named, so it waits; b's SKU is optional so it is simply omitted.
    assert reply.tool_calls == (("a", {"order_id": "ORD-1002"}), ("b", {"order_id": "ORD-1002"}))


def test_arguments_come_from_earlier_tool_results():
    messages = [
        {"role": "user", "content": "Is everything in ORD-1001 in stock?"},
        call("list_items", {"order_id": "ORD-1001"}, "c1"),
        result("c1", {"status": "success", "items": [{"sku": "SKU-A-1"}, {"sku": "SKU-B-2"}]}),
    ]
    reply = decide(messages, [tool("list_items", "order_id"), tool("stock", "sku")])
    assert reply.tool_calls == (("stock", {"sku": "SKU-A-1"}), ("stock", {"sku": "SKU-B-2"}))


def test_every_id_in_the_question_is_looked_up_and_answered():
    answer = formats("{order_id}: {order_status}")
    messages = [
        agent("me"),
        {"role": "user", "content": "Status of ORD-1 and ORD-2?"},
    ]
    tools = [tool("get_order_status", "order_id")]
    reply = decide(messages, tools)
    assert reply.tool_calls == (
        ("get_order_status", {"order_id": "ORD-1"}),
        ("get_order_status", {"order_id": "ORD-2"}),
    )
    messages += [
        call("get_order_status", {"order_id": "ORD-1"}, "c1"),
        result("c1", {"status": "success", "order_id": "ORD-1", "order_status": "shipped"}),
        call("get_order_status", {"order_id": "ORD-2"}, "c2"),
        result("c2", {"status": "success", "order_id": "ORD-2", "order_status": "processing"}),
    ]
    assert decide(messages, tools, answer).text == "ORD-1: shipped\nORD-2: processing"
    # Without a format of its own, an agent states the facts plainly.
    assert decide(messages, tools).text == "order_id: ORD-1 | order_status: shipped"


def test_a_follow_up_inherits_the_last_order_id_even_after_another_kind_of_id():
    messages = [
        {"role": "user", "content": "Where is ORD-1001?"},
        {"role": "assistant", "content": "In transit."},
        {"role": "user", "content": "Is SKU-MON-22 in stock?"},
        {"role": "assistant", "content": "No."},
        {"role": "user", "content": "Has it been paid?"},
    ]
    reply = decide(messages, [tool("get_payment_status", "order_id")])
    assert reply.tool_calls == (("get_payment_status", {"order_id": "ORD-1001"}),)


def test_optional_arguments_are_not_inherited_and_empty_calls_are_not_made():
    tools = [tool("check_inventory", "sku", "order_id", required=[])]
    messages = [
        {"role": "user", "content": "Where is ORD-1001?"},
        {"role": "assistant", "content": "In transit."},
        {"role": "user", "content": "Is SKU-MON-22 in stock?"},
    ]
    assert decide(messages, tools).tool_calls == (("check_inventory", {"sku": "SKU-MON-22"}),)
    # Nothing to look up: ask, rather than call the tool with no arguments.
    reply = decide([{"role": "user", "content": "what is in stock"}], tools)
    assert reply.text == "Please tell me the sku or order id."


def test_ids_are_ascii_only():
    reply = decide(
        [{"role": "user", "content": "ORD-١٠٠١?"}], [tool("get_order_status", "order_id")]
    )
    assert reply.text == "Please tell me the order id."


def test_without_an_id_it_asks_for_one():
    reply = decide(
        [{"role": "user", "content": "where is my stuff"}], [tool("get_order_status", "order_id")]
    )
    assert reply == offline_model.Reply(text="Please tell me the order id.")


STOCK_LINES = formats(
    ("in_stock", "{sku}: {on_hand} units in stock"),
    ("low_stock", "{sku}: {on_hand} units — reorder recommended"),
)


def test_answer_fills_the_matching_template_per_record():
    messages = [
        agent("me"),
        {"role": "user", "content": "stock for ORD-1?"},
        call("check", {"order_id": "ORD-1"}, "c1"),
        result(
            "c1",
            {
                "status": "success",
                "items": [
                    {"sku": "S-1", "on_hand": 3, "stock_state": "low_stock"},
                    {"sku": "S-2", "on_hand": 90, "stock_state": "in_stock"},
                ],
            },
        ),
    ]
    reply = decide(messages, [tool("check", "order_id")], STOCK_LINES)
    assert reply.text == "S-1: 3 units — reorder recommended\nS-2: 90 units in stock"


def test_paragraph_answers_use_formats_and_merge_results():
    answer = formats(
        ("shipped", "Order {order_id} ships via {carrier}, arriving {eta:long}."),
        ("captured", "Paid ${amount:.2f}."),
        ("refunded", "Refunded."),
        paragraph=True,
    )
    messages = [
        agent("me"),
        {"role": "user", "content": "ORD-7?"},
        call("status", {"order_id": "ORD-7"}, "c1"),
        result("c1", {"status": "success", "order_id": "ORD-7", "order_status": "shipped"}),
        call("ship", {"order_id": "ORD-7"}, "c2"),
        result("c2", {"status": "success", "carrier": "DHL", "eta": "2024-03-02"}),
        call("pay", {"order_id": "ORD-7"}, "c3"),
        result("c3", {"status": "success", "payment_status": "captured", "amount": 12}),
    ]
    tools = [tool("status", "order_id"), tool("ship", "order_id"), tool("pay", "order_id")]
    reply = decide(messages, tools, answer)
    assert reply.text == "Order ORD-7 ships via DHL, arriving March 2nd. Paid $12.00."
    # The same lines, not a paragraph: one per line.
    lines = formats(*((line.when, line.template) for line in answer["me"].lines))
    assert decide(messages, tools, lines).text == (
        "Order ORD-7 ships via DHL, arriving March 2nd.\nPaid $12.00."
    )


def test_error_results_are_relayed():
    messages = [
        agent("me"),
        {"role": "user", "content": "ORD-404?"},
        call("status", {"order_id": "ORD-404"}, "c1"),
        result("c1", {"status": "error", "error_message": "Order ORD-404 not found."}),
    ]
    answer = formats("Status: {order_status}")
    assert decide(messages, [tool("status", "order_id")], answer).text == "Order ORD-404 not found."


ROUTING_SYSTEM = """You are the coordinator.
You are an agent. Your internal name is "coordinator_agent". The description about you is "Routes questions."

Agent name: shipping_agent
Agent description: Shipping: carrier, tracking number and delivery date of a package.

Agent name: payment_agent
Agent description: Payment: whether an order has been paid, and the amount.

Agent name: support_agent
Agent description: Support: a summary of everything about an order.
"""
TRANSFER = tool(
    "transfer_to_agent",
    "agent_name",
    enum={"agent_name": ["payment_agent", "shipping_agent", "support_agent"]},
)


@pytest.mark.parametrize(
    "question, target",
    [
        ("Where is my package? ORD-1001", "shipping_agent"),
        ("Has ORD-1001 been paid?", "payment_agent"),
        ("ORD-1001?", "support_agent"),  # an id but no topic: the generalist
    ],
)
def test_coordinator_transfers_to_the_best_described_agent(question, target):
    reply = decide(
        [{"role": "system", "content": ROUTING_SYSTEM}, {"role": "user", "content": question}],
        [TRANSFER],
    )
    assert reply.tool_calls == (("transfer_to_agent", {"agent_name": target}),)


def test_coordinator_with_nothing_to_route_lists_its_topics():
    reply = decide(
        [{"role": "system", "content": ROUTING_SYSTEM}, {"role": "user", "content": "hi"}],
        [TRANSFER],
    )
    assert (
        reply.text == "I can help with shipping, payment and support. What would you like to know?"
    )


def test_specialist_hands_an_unrelated_question_back_to_its_parent():
    system = (
        'Your internal name is "payment_agent". The description about you is "Payment: amounts paid."\n'
        "If neither you nor the other agents are best for the question, transfer to your parent agent coordinator_agent.\n"
    )
    parent_enum = tool(
        "transfer_to_agent", "agent_name", enum={"agent_name": ["coordinator_agent"]}
    )
    reply = decide(
        [{"role": "system", "content": system}, {"role": "user", "content": "tell me a joke"}],
        [parent_enum, tool("get_payment_status", "order_id")],
    )
    assert reply.tool_calls == (("transfer_to_agent", {"agent_name": "coordinator_agent"}),)


def test_context_relayed_from_other_agents_is_not_taken_as_a_question():
    messages = [
        {"role": "user", "content": "Has ORD-1002 been paid?"},
        {
            "role": "user",
            "content": "For context: [coordinator_agent] called tool `transfer_to_agent` ORD-7777",
        },
    ]
    reply = decide(messages, [tool("get_payment_status", "order_id")])
    assert reply.tool_calls == (("get_payment_status", {"order_id": "ORD-1002"}),)


@pytest.fixture
def provider():
    """A provider of its own, with the format of an agent ``me``; the app's one afterwards."""
    registered = list(litellm.custom_provider_map)
    yield register(formats("Carrier: {carrier} | Tracking: {tracking_number}"))
    litellm.custom_provider_map = registered


async def test_acompletion_through_litellm_reports_tool_calls_and_usage(provider):
    response = await litellm.acompletion(
        model=OFFLINE_MODEL,
        messages=[{"role": "user", "content": "ORD-1001 status?"}],
        tools=[tool("get_order_status", "order_id")],
    )
    (tool_call,) = response.choices[0].message.tool_calls
    assert tool_call.function.name == "get_order_status"
    assert json.loads(tool_call.function.arguments) == {"order_id": "ORD-1001"}
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


async def test_streaming_through_litellm_yields_text_then_usage(provider):
    messages = [
        agent("me"),
        {"role": "user", "content": "ORD-1001?"},
        call("ship", {"order_id": "ORD-1001"}, "c1"),
        result("c1", {"status": "success", "carrier": "UPS", "tracking_number": "1Z9"}),
    ]
    stream = await litellm.acompletion(
        model=OFFLINE_MODEL,
        messages=messages,
        tools=[tool("ship", "order_id")],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    assert "".join(text) == "Carrier: UPS | Tracking: 1Z9"
    assert usage is not None and usage.total_tokens > 0


async def test_streaming_tool_calls_arrive_whole(provider):
    stream = await litellm.acompletion(
        model=OFFLINE_MODEL,
        messages=[{"role": "user", "content": "ORD-1001?"}],
        tools=[tool("a", "order_id"), tool("b", "order_id")],
        stream=True,
    )
    calls = []
    async for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or ()) if chunk.choices else ():
            calls.append((tc.function.name, json.loads(tc.function.arguments)))
    assert calls == [("a", {"order_id": "ORD-1001"}), ("b", {"order_id": "ORD-1001"})]


async def test_latency_knob_delays_each_call():
    import time

    model = OfflineModel()
    start = time.perf_counter()
    await model.respond(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        optional_params={LATENCY_PARAM: 0.2},
    )
    # A lower bound only: sleeping can run late on a busy machine, never early.
    assert time.perf_counter() - start >= 0.2
