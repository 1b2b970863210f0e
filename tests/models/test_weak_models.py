"""What a weak model does (seen with a real small one: made-up ids, empty answers, answers cut
off, prose where a tool call was due, calls that time out) and what the agents make of it:
a degraded answer about the order that was asked, every billed token counted, a circuit that
stays closed for a model that answers badly, timeouts recorded as failed calls, and one hint
when every call times out."""

import dataclasses
import json

import pytest
import stamina
from helpers import ARTICLE_ANSWERS, load_trace, run_cli
from openai_stub import ESCAPED_ANSWER, ESCAPED_ID, NO_TOOLS_ANSWER

from order_tracking.agents.build import build_order_agents
from order_tracking.async_runner import track_order
from order_tracking.composition import answer_check, production_models
from order_tracking.core.results import RunLimits, Status
from order_tracking.core.settings import OFFLINE_MODEL, CheckPolicy, Settings
from order_tracking.core.workarounds import CANCELLED_CALL
from order_tracking.models.gateway import litellm_models
from order_tracking.models.meter import ModelMeter
from order_tracking.models.resilience import CircuitState, TimeoutHint
from order_tracking.ops import logs
from order_tracking.tracing.view import load_trace as read_trace
from order_tracking.tracing.view import render_text

USAGE_TOKENS = 110  # what the loopback server bills per call (benchmarks.provider.USAGE)


@pytest.fixture
def no_backoff():
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def settings(payment_model: str, **changes) -> Settings:
    """The payment agent on ``payment_model``, the others on the offline model."""
    base = Settings(
        default_model=OFFLINE_MODEL,
        model_overrides={"payment_agent": payment_model},
        circuit_threshold=1000,
    )
    return dataclasses.replace(base, **changes)


async def payment(
    settings_: Settings, order_id="ORD-1001", tracing=None, models=None, check=None, **limits
):
    (agent,) = build_order_agents(models or production_models(settings_), names=["payment_agent"])
    report = await track_order(order_id, [agent], tracing, limits=RunLimits(**limits), check=check)
    return report.results[0], report


# --- The degraded answer is about the order asked (a real model's made-up id) ---------------


async def test_a_degraded_answer_is_about_the_order_asked_not_the_models_made_up_id(
    stub, no_backoff
):
    # The model looks up "1001" (made up), then answers nothing: every model failed.
    weak = settings("openai/made-up-id")
    result, _ = await payment(weak, check=answer_check(weak))
    assert result.status == Status.DEGRADED
    assert "MalformedResponseError: the provider sent an empty answer" in result.error
    # Not "That is not an order id (invalid order id '1001')": ORD-1001's payment, looked up
    # by the degraded model itself, the model's failed lookup left out.
    assert result.text == ARTICLE_ANSWERS["payment_agent"]
    assert result.tool_args == ('{"order_id": "1001"}', '{"order_id": "ORD-1001"}')
    # The check holds it to ORD-1001's own lookup, which supports it (the failed one aside).
    assert result.verified is True and result.unsupported_claims == ()


async def test_every_agent_degraded_from_made_up_ids_answers_its_own_question(stub, no_backoff):
    report = await track_order(
        "ORD-1001",
        build_order_agents(production_models(Settings(default_model="openai/made-up-id"))),
        limits=RunLimits(),
    )
    assert {r.agent: r.text for r in report.results} == ARTICLE_ANSWERS
    assert {r.status for r in report.results} == {Status.DEGRADED}


async def test_replace_looks_the_order_up_when_the_model_called_no_tool(stub):
    # Prose where a tool call was due ("delivered on January 20th"): nothing supports it.
    replace = settings("openai/no-tools", answer_check=CheckPolicy.REPLACE)
    (agent,) = build_order_agents(production_models(replace), names=["payment_agent"])
    report = await track_order("ORD-1001", [agent], limits=RunLimits(), check=answer_check(replace))
    (result,) = report.results
    assert result.status == Status.DEGRADED and result.verified is False
    # Not "I could not find anything to report.": the order was looked up.
    assert result.text == ARTICLE_ANSWERS["payment_agent"]
    assert result.error.startswith(
        "the model's answer called no tool for ORD-1001; states what no tool returned: "
    )
    assert "January 20th" in result.error
    assert result.error.endswith("; answered from tool results alone")
    assert NO_TOOLS_ANSWER not in result.text
    assert result.tool_calls == ("get_payment_status",)  # the lookup made for the answer
    assert stub.count("no-tools") == 1  # the model is not asked again


# --- A malformed answer: counted, retried, degraded; never the circuit's business -----------


async def test_the_tokens_of_rejected_answers_are_counted_and_charged(stub, no_backoff):
    from order_tracking.ops.spend import Limits, MemoryStore

    spend = MemoryStore(Limits())  # the spend limits' side of the meter
    weak = Settings(default_model="openai/empty-choices")
    models = litellm_models(weak, [ModelMeter(None, spend)], degrade=False)
    result, _ = await payment(weak, models=models)
    assert result.status == Status.ERROR and "empty answer" in result.error
    assert stub.count("empty-choices") == 3
    # Three answers refused, three billed: the run's figures and the hourly limit's.
    assert (result.model_calls, result.tokens) == (3, 3 * USAGE_TOKENS)
    assert (await spend.spent()).hour_tokens == 3 * USAGE_TOKENS


async def test_rejected_answers_count_against_the_runs_token_budget(stub, no_backoff):
    weak = Settings(default_model="openai/empty-choices")
    result, _ = await payment(weak, max_tokens=2 * USAGE_TOKENS)
    # Two refused answers spent the budget: the third attempt is not made.
    assert result.status == Status.BUDGET
    assert (stub.count("empty-choices"), result.tokens) == (2, 2 * USAGE_TOKENS)


async def test_an_answer_cut_off_at_the_token_limit_is_not_taken_as_whole(stub, no_backoff):
    result, _ = await payment(settings("openai/cut-off"))
    assert result.status == Status.DEGRADED
    assert "MalformedResponseError: the answer was cut off at the model's token limit" in (
        result.error
    )
    assert result.text == ARTICLE_ANSWERS["payment_agent"]  # not half of it


async def test_malformed_answers_never_open_the_circuit_for_other_agents_or_orders(
    stub, no_backoff
):
    # A batch on a weak model, one breaker shared by all (as in a process): each agent of
    # each order asks the model itself (three attempts), however badly it answered before.
    models = production_models(Settings(default_model="openai/empty-choices", circuit_threshold=2))
    agents = build_order_agents(models)
    for order_id in ("ORD-1001", "ORD-1002"):
        report = await track_order(order_id, agents, limits=RunLimits())
        assert {r.status for r in report.results} == {Status.DEGRADED}
        assert not any("circuit" in r.error for r in report.results)
    assert stub.count("empty-choices") == 2 * 5 * 3
    breaker = models("payment_agent").guards[0].for_model("openai/empty-choices")
    assert breaker.state == CircuitState.CLOSED


async def test_an_outage_still_opens_the_circuit(stub, no_backoff):
    models = production_models(Settings(default_model="openai/http-500", circuit_threshold=2))
    for order_id in ("ORD-1001", "ORD-1002"):
        result, _ = await payment(settings(OFFLINE_MODEL), order_id, models=models)
        assert result.status == Status.DEGRADED
    assert stub.count("http-500") == 2  # then refused without a call
    assert "circuit for openai/http-500 is open" in result.error


# --- Timeouts: failed inference spans, and one hint -----------------------------------------


async def test_a_model_call_that_timed_out_is_a_failed_inference_span(stub, no_backoff, tracing):
    result, report = await payment(
        settings("openai/hang", model_timeout_s=0.5, model_retries=0), tracing=tracing
    )
    assert result.status == Status.DEGRADED and "ModelCallTimeout" in result.error
    (hung,) = [
        s
        for s in load_trace(report.trace_file)
        if s["attributes"].get("span.type", "").startswith("inference")
        and s["attributes"].get("entity.2.name") == "hang"
    ]
    assert hung["status"]["status_code"] == "ERROR"
    tree = render_text(read_trace(report.trace_file))
    (line,) = [line for line in tree.splitlines() if "inference: openai hang" in line]
    assert line.endswith("✗ " + CANCELLED_CALL[:80])


async def test_one_hint_when_every_call_to_a_model_times_out(stub, no_backoff):
    said = []
    hint = TimeoutHint(said.append, model_timeout_s=0.3)
    slow = Settings(default_model="openai/hang", model_timeout_s=0.3, model_retries=1)
    models = litellm_models(slow, [hint])
    for order_id in ("ORD-1001", "ORD-1002"):  # four calls, all timed out: said once
        result, _ = await payment(slow, order_id, models=models)
        assert result.status == Status.DEGRADED
    assert said == [hint.hint("openai/hang")]
    assert said[0].startswith(
        "3 calls in a row to openai/hang timed out (MODEL_TIMEOUT_S=0.3): a slow model"
    )


async def test_the_process_models_tell_the_operator_once_on_stderr(
    stub, no_backoff, capsys, monkeypatch
):
    monkeypatch.setattr(logs, "_json_active", False)  # the human format, whatever ran before
    slow = settings("openai/hang", model_timeout_s=0.3, model_retries=2)
    models = production_models(slow)  # as the composition root builds them for a run
    for order_id in ("ORD-1001", "ORD-1002"):
        result, _ = await payment(slow, order_id, models=models)
        assert result.status == Status.DEGRADED
    err = capsys.readouterr().err
    assert err.count("3 calls in a row to openai/hang timed out (MODEL_TIMEOUT_S=0.3)") == 1


async def test_the_hint_waits_for_timeouts_in_a_row():
    said = []
    hint = TimeoutHint(said.append, after=3)

    async def timed_out(times):
        for _ in range(times):
            with pytest.raises(TimeoutError):
                async with hint.attempt("m"):
                    raise TimeoutError

    await timed_out(2)
    async with hint.attempt("m"):
        pass  # an answer in between: the count starts again
    await timed_out(2)
    assert said == []
    await timed_out(1)  # a local server's usual burst: the first answered, the rest late
    await timed_out(5)
    assert said == [hint.hint("m")]  # once


async def test_litellms_own_timeout_counts_as_a_timeout():
    import litellm

    said = []
    hint = TimeoutHint(said.append, after=1)
    with pytest.raises(litellm.Timeout):
        async with hint.attempt("m"):
            raise litellm.Timeout("Request timed out.", model="m", llm_provider="openai")
    assert len(said) == 1


# --- HTML-escaped text: passed on as it came ------------------------------------------------


def test_html_escaped_text_from_a_model_is_passed_on_as_it_came(capsys, cli_env, stub, monkeypatch):
    # llama-cpp-python's chatml-function-calling template escapes its prompt (Jinja's
    # autoescape), and the model copies "&#39;" into its arguments and answers. No layer of
    # ours unescapes or escapes it: the tool gets the argument as sent, the reader the answer.
    monkeypatch.setenv("PAYMENT_AGENT_MODEL", "openai/escaped")
    _, out, _ = run_cli(capsys, "ORD-1001", "--json")
    payment = next(a for a in json.loads(out)["agents"] if a["agent"] == "payment_agent")
    assert payment["text"] == ESCAPED_ANSWER
    assert payment["tool_calls"] == ["get_payment_status"]
    tool_results = [
        m["content"]
        for r in stub.requests
        if r["body"]["model"] == "escaped"
        for m in r["body"]["messages"]
        if m["role"] == "tool"
    ]
    assert tool_results and all(
        f"invalid order id {ESCAPED_ID!r}" in content for content in tool_results
    )
    code, out, _ = run_cli(capsys, "ORD-1001")
    assert code == 1  # an unverified answer: the run says so
    assert "[payment_agent]\nUNVERIFIED: " in out and f"\n{ESCAPED_ANSWER}\n" in out
