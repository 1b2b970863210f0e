"""ANSWER_CHECK applied to runs: every answer checked against its run's tool results, flagged
or replaced when it states what no tool returned, never when it says the same facts in other
words; the verdict in the result, the JSON, the report, the exit code and the trace."""

import dataclasses
import json

import pytest
from helpers import ARTICLE_ANSWERS, load_trace, run_cli, scripted_models
from openai_stub import PLANTED

from order_tracking import composition
from order_tracking.answers.policy import AnswerCheck, CheckPolicy
from order_tracking.core.report import render_section
from order_tracking.core.results import Status
from order_tracking.core.settings import OFFLINE_MODEL, ConfigError, Settings
from order_tracking.temporal._messages import result_from_data, result_to_data


def _planted(text: str) -> str:
    for real, planted in PLANTED.items():
        text = text.replace(real, planted)
    return text


# Each agent's answer for ORD-1001 said differently, every fact the same.
PARAPHRASES = {
    "order_status_agent": "Order ORD-1001 was placed on January 15, 2024 and has shipped; it "
    "holds 2 items.",
    "shipping_agent": "It is in transit with UPS, tracking number 1z999aa1012345678, and "
    "should arrive on 18 Jan 2024.",
    "inventory_agent": "SKU-APL-01 has 150 units on hand. SKU-KBD-07 is low on stock (3 units).",
    "payment_agent": "The payment of 299.99 USD for ORD-1001 was captured.",
    "support_agent": "Good news! ORD-1001 is on its way with UPS (1Z999AA1012345678) and "
    "should reach you by 01/18/2024. We received your payment of $299.99.",
}


def _app(scripts, policy=CheckPolicy.FLAG, tracing=None):
    settings = Settings(default_model=OFFLINE_MODEL, answer_check=policy)
    app = composition.build(settings, models=scripted_models(scripts), traced=False)
    return dataclasses.replace(app, tracing=tracing)


async def test_paraphrases_of_the_same_facts_are_verified():
    scripts = {a: {"rewrite": lambda _t, a=a: PARAPHRASES[a]} for a in PARAPHRASES}
    report = await _app(scripts).track_order("ORD-1001")
    for result in report.results:
        assert result.text == PARAPHRASES[result.agent]
        assert (result.status, result.verified, result.unsupported_claims) == (
            Status.OK,
            True,
            (),
        ), result


async def test_flag_keeps_the_answer_marks_it_and_names_the_claims(tracing):
    report = await _app({"support_agent": {"rewrite": _planted}}, tracing=tracing).track_order(
        "ORD-1001"
    )
    support = report.results[-1]
    assert support.status == Status.UNVERIFIED and not support.ok
    assert support.text == _planted(ARTICLE_ANSWERS["support_agent"])
    assert support.verified is False
    assert support.unsupported_claims == ("1Z999AA1099999999", "January 21st")
    assert support.error == "states what no tool returned: 1Z999AA1099999999, January 21st"
    assert render_section(support).splitlines()[:2] == [
        "[support_agent]",
        "UNVERIFIED: states what no tool returned: 1Z999AA1099999999, January 21st",
    ]
    assert all(r.ok and r.verified for r in report.results[:-1])
    # The trace has the verdict of every agent, with the claims it checked.
    events = [
        e["attributes"]
        for span in load_trace(report.trace_file)
        for e in span.get("events", [])
        if e["name"] == "answer.check"
    ]
    assert len(events) == 5
    (flagged,) = [e for e in events if e["agent"] == "support_agent"]
    assert flagged["verified"] is False and flagged["policy"] == "flag"
    assert flagged["unsupported"] == ["reference: 1Z999AA1099999999", "date: January 21st"]
    assert "carrier: UPS" in flagged["claims"] and "amount: $299.99" in flagged["claims"]


async def test_replace_puts_the_answer_from_tool_results_in_its_place():
    app = _app({"shipping_agent": {"rewrite": _planted}}, CheckPolicy.REPLACE)
    shipping = (await app.track_order("ORD-1001")).results[1]
    assert shipping.status == Status.DEGRADED
    assert shipping.text == ARTICLE_ANSWERS["shipping_agent"]
    assert shipping.verified is False
    assert shipping.unsupported_claims == ("1Z999AA1099999999", "2024-01-21")
    assert shipping.error == (
        "the model's answer states what no tool returned: 1Z999AA1099999999, 2024-01-21; "
        "answered from tool results alone"
    )


async def test_off_checks_nothing():
    app = _app({"shipping_agent": {"rewrite": _planted}}, CheckPolicy.OFF)
    shipping = (await app.track_order("ORD-1001")).results[1]
    assert (shipping.status, shipping.verified, shipping.unsupported_claims) == (
        Status.OK,
        None,
        (),
    )


async def test_an_answer_about_another_order_is_caught():
    rewrite = {"rewrite": lambda text: text.replace("ORD-1001", "ORD-1002")}
    support = (await _app({"support_agent": rewrite}).track_order("ORD-1001")).results[-1]
    assert support.unsupported_claims == ("ORD-1002",)


async def test_a_status_count_and_amount_no_tool_gave_are_caught():
    scripts = {
        "order_status_agent": {"rewrite": lambda t: t.replace("shipped", "delivered")},
        "inventory_agent": {"rewrite": lambda t: t.replace("3 units", "30 units")},
        "payment_agent": {"rewrite": lambda t: t.replace("USD", "EUR")},
    }
    results = {r.agent: r for r in (await _app(scripts).track_order("ORD-1001")).results}
    assert results["order_status_agent"].unsupported_claims == ("delivered",)
    assert results["inventory_agent"].unsupported_claims == ("30 units",)
    assert results["payment_agent"].unsupported_claims == ("$299.99 EUR",)
    assert results["shipping_agent"].verified and results["support_agent"].verified


def test_a_planted_fact_fails_the_run_and_says_why(capsys, cli_env, stub, monkeypatch):
    monkeypatch.setenv("SHIPPING_MODEL", "openai/planted")
    code, out, _ = run_cli(capsys, "ORD-1001")
    assert code == 1
    assert (
        "[shipping_agent]\nUNVERIFIED: states what no tool returned: 1Z999AA1099999999, "
        "2024-01-21\nCarrier: UPS | Tracking: 1Z999AA1099999999 | ETA: 2024-01-21\n" in out
    )
    assert "[payment_agent]\nStatus: captured | Amount: $299.99 USD\n" in out

    monkeypatch.setenv("ANSWER_CHECK", "replace")
    code, out, _ = run_cli(capsys, "ORD-1001", "--json")
    assert code == 1
    agents = {a["agent"]: a for a in json.loads(out)["agents"]}
    assert agents["shipping_agent"]["status"] == "degraded"
    assert agents["shipping_agent"]["text"] == ARTICLE_ANSWERS["shipping_agent"]
    assert agents["shipping_agent"]["verified"] is False
    assert agents["shipping_agent"]["unsupported_claims"] == ["1Z999AA1099999999", "2024-01-21"]
    assert agents["payment_agent"]["verified"] is True

    monkeypatch.setenv("ANSWER_CHECK", "off")
    code, out, _ = run_cli(capsys, "ORD-1001", "--json")
    assert code == 0
    assert {a["verified"] for a in json.loads(out)["agents"]} == {None}


@pytest.mark.parametrize("raw", ["strict", "1", "flag,replace"])
def test_a_bad_policy_is_a_config_error(raw):
    with pytest.raises(ConfigError, match="ANSWER_CHECK must be one of flag, replace, off"):
        Settings.from_env({"ANSWER_CHECK": raw})


def test_the_policy_is_read_in_any_case():
    assert Settings.from_env({"ANSWER_CHECK": " Replace "}).answer_check == CheckPolicy.REPLACE
    assert Settings.from_env({}).answer_check == CheckPolicy.FLAG


async def test_the_verdict_crosses_temporal_as_data():
    app = _app({"support_agent": {"rewrite": _planted}})
    for result in (await app.track_order("ORD-1001")).results:
        back = result_from_data(result_to_data(result))
        assert back == dataclasses.replace(result, session_id=None)


def test_replace_without_a_rebuild_flags():
    review = AnswerCheck(CheckPolicy.REPLACE).review(
        "shipping_agent", "Tracking: 1Z999AA1099999999", [("t", {"tracking": "1Z999AA1012345678"})]
    )
    assert (review.verified, review.replaced, review.text) == (
        False,
        False,
        "Tracking: 1Z999AA1099999999",
    )


def test_a_long_list_of_claims_is_cut_short_in_the_reason():
    text = " ".join(f"SKU-X{i}" for i in range(8))
    review = AnswerCheck().review("inventory_agent", text, [])
    assert len(review.unsupported) == 8
    assert review.reason.endswith("SKU-X4 and 3 more")


@pytest.mark.parametrize(
    ("policy", "status", "verified"),
    [
        ("flag", Status.UNVERIFIED, False),
        ("replace", Status.DEGRADED, False),
        # A workflow's input may ask for a stricter check, never a looser one (issue 22): the
        # worker's own flag stands.
        ("off", Status.UNVERIFIED, False),
        ("bogus", Status.UNVERIFIED, False),  # from another version: the worker's own policy
    ],
)
async def test_a_temporal_worker_applies_the_submitters_policy(policy, status, verified):
    from temporalio.testing import ActivityEnvironment

    from order_tracking.temporal import AgentRequest
    from order_tracking.temporal._activities import AgentActivities

    app = _app({"shipping_agent": {"rewrite": _planted}})  # the worker's own policy: flag
    request = AgentRequest(
        order_id="ORD-1001", agent="shipping_agent", deadline_s=30, answer_check=policy
    )
    data = await ActivityEnvironment().run(AgentActivities(app).run_agent, request)
    assert (Status(data.status), data.verified) == (status, verified)
    expected = ARTICLE_ANSWERS["shipping_agent"]
    assert data.text == (expected if policy == "replace" else _planted(expected))


def test_a_configured_order_id_pattern_is_what_the_check_looks_for():
    from order_tracking.core.order_ids import OrderIdPattern

    check = composition.answer_check(
        Settings(default_model=OFFLINE_MODEL, order_ids=OrderIdPattern("#W[0-9]{7}"))
    )
    results = [("get_order_status", {"order_id": "#W2611340", "order_status": "shipped"})]
    asked = check.review(
        "order_status_agent", "#W2611340 has shipped.", results, order_id="#W2611340"
    )
    other = check.review(
        "order_status_agent", "#W9999999 has shipped.", results, order_id="#W2611340"
    )
    assert (asked.verified, other.unsupported) == (True, ("#W9999999",))


def test_a_fault_in_the_checker_keeps_the_answer_and_says_so():
    class Odd:
        def __str__(self) -> str:
            raise RuntimeError("cannot be read")

    review = AnswerCheck().review("shipping_agent", "Tracking 1Z999AA1012345678", [("t", Odd())])
    assert (review.verified, review.text) == (False, "Tracking 1Z999AA1012345678")
    assert review.reason == "could not be checked (RuntimeError: cannot be read)"


async def _chat(app, questions):
    """A conversation with ``app``'s coordinator as ``adk web`` holds it: with the plugin."""
    from google.adk.apps import App as AdkApp
    from google.adk.runners import Runner
    from google.adk.sessions import InMemorySessionService
    from google.genai import types

    from order_tracking.answers.plugin import AnswerCheckPlugin

    adk_app = AdkApp(
        name="order_tracking",
        root_agent=app.coordinator(),
        plugins=[AnswerCheckPlugin(app.answer_check)],
    )
    service = InMemorySessionService()
    runner = Runner(app=adk_app, session_service=service)
    session = await service.create_session(app_name="order_tracking", user_id="u")
    answers = []
    try:
        for question in questions:
            message = types.Content(role="user", parts=[types.Part(text=question)])
            final = None
            async for event in runner.run_async(
                user_id="u", session_id=session.id, new_message=message
            ):
                if event.is_final_response() and event.content and event.content.parts:
                    final = event.content.parts[0].text
            answers.append(final)
    finally:
        await runner.close()
    return answers


CHAT = ["Where is my package for ORD-1001?", "And has it been paid?"]


@pytest.mark.parametrize("policy", list(CheckPolicy))
async def test_a_chat_answer_is_checked_against_the_conversations_tool_results(policy):
    app = _app({"shipping_agent": {"rewrite": _planted}}, policy)
    shipping, payment = await _chat(app, CHAT)
    planted = _planted(ARTICLE_ANSWERS["shipping_agent"])
    assert (
        shipping
        == {
            CheckPolicy.FLAG: "UNVERIFIED: states what no tool returned: 1Z999AA1099999999, "
            f"2024-01-21\n\n{planted}",
            CheckPolicy.REPLACE: "DEGRADED: the model's answer states what no tool returned: "
            "1Z999AA1099999999, 2024-01-21; answered from tool results alone\n\n"
            + ARTICLE_ANSWERS["shipping_agent"],
            CheckPolicy.OFF: planted,
        }[policy]
    )
    assert payment == ARTICLE_ANSWERS["payment_agent"]  # a follow-up, verified


async def test_a_correct_chat_is_left_as_it_is():
    answers = await _chat(_app({}), [*CHAT, "Is SKU-KBD-07 in stock?", "What's the weather?"])
    assert answers[:3] == [
        ARTICLE_ANSWERS["shipping_agent"],
        ARTICLE_ANSWERS["payment_agent"],
        "SKU-KBD-07: 3 units — reorder recommended",
    ]
    assert answers[3].startswith("I can help with order status")


# An answer stands only on lookups for the order that was asked (issue 23, items 8 and 9).
ANOTHER_ORDER = {
    "args": {
        tool: {"order_id": "ORD-1003"}
        for tool in ("get_order_status", "get_shipping_details", "get_payment_status",
                     "check_inventory")
    }
}  # fmt: skip


async def test_an_answer_from_another_orders_lookups_is_not_verified():
    # Every agent asked about ORD-1001 looks up ORD-1003 and answers about it, faithfully.
    scripts = {agent: ANOTHER_ORDER for agent in PARAPHRASES}
    report = await _app(scripts).track_order("ORD-1001")
    for result in report.results:
        assert (result.status, result.verified) == (Status.UNVERIFIED, False), result
        assert result.error.startswith("called no tool for ORD-1001"), result.error
    support = report.results[-1]
    assert "FedEx" in support.text and "ORD-1003" in support.unsupported_claims
    assert "states what no tool returned: " in support.error


async def test_an_answer_with_no_lookup_is_not_verified_and_replace_replaces_it():
    said = "Your order is completed."
    scripts = {"order_status_agent": {"hide": ("get_order_status",), "rewrite": lambda _t: said}}
    flagged = (await _app(scripts).track_order("ORD-1001")).results[0]
    assert (flagged.status, flagged.verified, flagged.text) == (Status.UNVERIFIED, False, said)
    assert (flagged.error, flagged.unsupported_claims) == ("called no tool for ORD-1001", ())
    replaced = (await _app(scripts, CheckPolicy.REPLACE).track_order("ORD-1001")).results[0]
    assert (replaced.status, replaced.verified) == (Status.DEGRADED, False)
    assert replaced.text != said
    assert replaced.error == (
        "the model's answer called no tool for ORD-1001; answered from tool results alone"
    )


async def test_the_support_agent_needs_one_lookup_for_the_order_not_all_three():
    one_skipped = {"support_agent": {"hide": ("get_payment_status",)}}
    support = (await _app(one_skipped).track_order("ORD-1001")).results[-1]
    assert (support.status, support.verified) == (Status.OK, True)
    tools = ("get_order_status", "get_shipping_details", "get_payment_status")
    none = {"support_agent": {"hide": tools, "rewrite": lambda _t: "All good with your order!"}}
    support = (await _app(none).track_order("ORD-1001")).results[-1]
    assert (support.status, support.error) == (Status.UNVERIFIED, "called no tool for ORD-1001")


def test_lookups_are_matched_to_the_question_by_their_arguments_and_results():
    check = AnswerCheck()
    order = {"status": "success", "order_id": "ORD-1001", "order_status": "shipped",
             "items": [{"sku": "SKU-APL-01", "quantity": 1}]}  # fmt: skip
    stock = {
        "status": "success",
        "items": [{"sku": "SKU-APL-01", "on_hand": 150, "stock_state": "in_stock"}],
    }
    other = {
        "status": "success",
        "items": [{"sku": "SKU-MON-22", "on_hand": 0, "stock_state": "out_of_stock"}],
    }
    down = {"status": "error", "error_message": "The warehouse system is unavailable."}
    results = [("get_order_status", order), ("check_inventory", stock),
               ("check_inventory", other), ("check_inventory", down)]  # fmt: skip
    args = [{"order_id": "ord-1001"}, {"sku": "SKU-APL-01"}, {"sku": "SKU-MON-22"},
            {"order_id": "ORD-1001"}]  # fmt: skip
    # The stock of the asked order's SKU stands; another SKU's does not.
    ok = check.review("inventory_agent", "SKU-APL-01: 150 in stock", results,
                      order_id="ORD-1001", arguments=args)  # fmt: skip
    wrong = check.review("inventory_agent", "SKU-MON-22: 0 in stock", results,
                         order_id="ORD-1001", arguments=args)  # fmt: skip
    assert (ok.verified, wrong.unsupported) == (True, ("SKU-MON-22", "0 in stock"))
    # A SKU asked about by name: its own lookup grounds the answer.
    sku = check.review("inventory_agent", "SKU-MON-22: 0 left, out of stock", results[2:3],
                       skus=["SKU-MON-22"], arguments=args[2:3])  # fmt: skip
    assert sku.verified
    # A system that was down, asked for the order: a lookup for it (the answer relays it).
    relayed = check.review("inventory_agent", "The warehouse system is unavailable.",
                           results[3:], order_id="ORD-1001", arguments=args[3:])  # fmt: skip
    assert relayed.verified
    # A made-up id in the call: no lookup for the order asked.
    refused = {"status": "error", "error_message": "That is not an order id (invalid '1001')."}
    made_up = check.review("order_status_agent", "That is not an order id.",
                           [("get_order_status", refused)], order_id="ORD-1001",
                           arguments=[{"order_id": "1001"}])  # fmt: skip
    assert (made_up.verified, made_up.no_lookup) == (False, "ORD-1001")
    # Agents that are not specialists (the coordinator's refusals) need no lookup.
    assert check.review("coordinator_agent", "I can help with orders.", [],
                        order_id="ORD-1001").verified  # fmt: skip


async def test_a_chat_answer_about_another_order_is_marked():
    app = _app({"shipping_agent": ANOTHER_ORDER})
    (shipping,) = await _chat(app, ["Where is my package for ORD-1001?"])
    assert shipping.startswith("UNVERIFIED: called no tool for ORD-1001; states what no tool "
                               "returned: ")  # fmt: skip


@pytest.mark.parametrize("policy", list(CheckPolicy))
async def test_a_secret_a_model_echoes_in_a_chat_is_redacted(policy):
    """The report, `--json` and `serve` redacted a key a model echoed; the `adk web` chat
    showed it (and stored it in the session), checked or not."""
    from order_tracking.core.redaction import REDACTED, register_secret_values

    secret = "sk-chat-echo-0123456789abcdef"
    register_secret_values([secret])
    app = _app({"payment_agent": {"rewrite": lambda t: f"{t}\nYour key: {secret}"}}, policy)
    _shipping, payment = await _chat(app, CHAT)
    assert secret not in payment and (REDACTED in payment or policy == CheckPolicy.REPLACE)


@pytest.mark.parametrize(
    "secret", ["sk-proj-Q1w2E3r4T5y6U7i8O9p0AsDfGhJkL", "PRJ-2024-1099-SECRETKEY99"]
)
async def test_a_key_a_model_echoes_is_not_quoted_as_a_claim(secret):
    """The answer was redacted on its way out, but the check quoted what it found in it: the
    reason and `unsupported_claims` said "states what no tool returned:
    Q1w2E3r4T5y6U7i8O9p0AsDfGhJkL", the key without its public prefix."""
    from order_tracking.core import outbound
    from order_tracking.core.redaction import register_secret_values
    from order_tracking.core.report import order_json, render_report

    register_secret_values([secret])
    app = _app({"payment_agent": {"rewrite": lambda t: f"{t}\nYour key: {secret}"}})
    report = await app.track_order("ORD-1001")
    body = (
        secret.rpartition("-")[2] if secret.startswith("PRJ") else secret.removeprefix("sk-proj-")
    )
    for shown in (render_report(report), outbound.json_text(order_json(report))):
        assert body not in shown
