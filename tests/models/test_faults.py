"""Fault injection against the loopback OpenAI-compatible server: every fault ends within its
deadline, leaves the other agents' answers intact, says why, and leaves a valid trace."""

import asyncio
import dataclasses
import time

import pytest
import stamina
from google.adk.agents import Agent
from helpers import ARTICLE_ANSWERS, load_trace

from order_tracking.agents.build import build_order_agents
from order_tracking.async_runner import track_order
from order_tracking.composition import production_models, warm_up
from order_tracking.core.results import RunLimits, Status
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.models.resilience import CircuitBreaker, CircuitOpenError, CircuitState

HEALTHY = "openai/healthy"


@pytest.fixture
def no_backoff():
    # stamina's test mode: real attempt counts (capped at ours), no sleeping between them.
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def settings(payment_model: str, **changes) -> Settings:
    """The payment agent on a faulty model, the others healthy. The circuit breaker stays out
    of the way unless a test is about it (it counts every failed attempt)."""
    base = Settings(
        default_model=HEALTHY,
        model_overrides={"payment_agent": payment_model},
        circuit_threshold=1000,
    )
    return dataclasses.replace(base, **changes)


async def run(settings_: Settings, tracing=None, **limits):
    agents = build_order_agents(production_models(settings_))
    return await track_order("ORD-1001", agents, tracing, limits=RunLimits(**limits))


def by_agent(report):
    return {r.agent: r for r in report.results}


def assert_others_intact(report, failing="payment_agent"):
    others = {r.agent: r.text for r in report.results if r.agent != failing}
    assert others == {k: v for k, v in ARTICLE_ANSWERS.items() if k != failing}
    assert all(r.status == Status.OK for r in report.results if r.agent != failing), [
        (r.agent, r.status, r.error) for r in report.results
    ]


def events(trace_file, name):
    return [e for s in load_trace(trace_file) for e in s["events"] if e["name"] == name]


async def test_http_500_is_retried_then_the_agent_degrades(stub, no_backoff, tracing):
    report = await run(settings("openai/http-500"), tracing)
    payment = by_agent(report)["payment_agent"]
    assert payment.status == Status.DEGRADED and not payment.ok
    assert payment.text == ARTICLE_ANSWERS["payment_agent"]  # from the tool result alone
    assert payment.error == (
        "every model failed (InternalServerError: OpenAIException - upstream exploded); "
        "answered from tool results alone"
    )
    # Three attempts at the first model call; the rest of the turn is the degraded model's
    # (the provider that failed it is not asked again).
    assert stub.count("http-500") == 3
    assert payment.retries == 2
    assert_others_intact(report)
    retries = events(report.trace_file, "model.retry")
    assert len(retries) == 2 and {e["attributes"]["model"] for e in retries} == {"openai/http-500"}
    assert len(events(report.trace_file, "model.degraded")) == 1
    # Every attempt is its own inference span, failed ones marked as errors.
    attempts = [
        s
        for s in load_trace(report.trace_file)
        if s["attributes"].get("span.type", "").startswith("inference")
        and s["attributes"].get("entity.2.name") == "http-500"
    ]
    assert len(attempts) == 3
    assert all(s["status"]["status_code"] == "ERROR" for s in attempts)


async def test_rate_limit_is_retried_after_the_providers_retry_after(stub):
    report = await run(settings("openai/flaky-429-1"))
    payment = by_agent(report)["payment_agent"]
    assert payment.status == Status.OK and payment.text == ARTICLE_ANSWERS["payment_agent"]
    assert payment.retries == 1 and stub.count("flaky-429-1") == 3
    # Retry-After: 1 was honoured: our own first backoff is at most 0.75 s.
    assert payment.elapsed_s >= 1.0
    assert_others_intact(report)


async def test_a_hung_provider_is_given_up_within_the_deadline(stub, tracing):
    # The OpenAI provider's first call imports its client (about a second here): done first,
    # or a 2 s deadline measures that, alone or on a busy machine (the CLI warms up too).
    await run(settings(HEALTHY), deadline_s=30)
    start = time.perf_counter()
    report = await run(settings("openai/hang"), tracing, deadline_s=2)
    payment = by_agent(report)["payment_agent"]
    # The call's timeout is cut to the agent's share of its deadline (less a reserve), so a
    # degraded answer still arrives in time; nothing waits for LiteLLM's 6000 s.
    assert payment.status == Status.DEGRADED and "Timeout" in payment.error
    assert payment.text == ARTICLE_ANSWERS["payment_agent"]
    assert payment.elapsed_s < 2
    assert time.perf_counter() - start < 2 + 10
    assert_others_intact(report)
    assert load_trace(report.trace_file)


async def test_an_agent_that_cannot_finish_in_time_says_timeout(tracing):
    # Even the last resort is slow (the offline model with 3 s per call): a 1 s deadline.
    slow = Settings(default_model=OFFLINE_MODEL, offline_latency_s=3)
    report = await run(slow, tracing, deadline_s=1)
    assert {(r.status, r.error, r.text) for r in report.results} == {
        (Status.TIMEOUT, "no answer within 1s", "")
    }
    assert report.wall_s < 1 + 5
    assert load_trace(report.trace_file)


async def test_a_model_call_timeout_is_retried_then_degrades(stub, no_backoff):
    report = await run(settings("openai/hang", model_timeout_s=0.5), deadline_s=30)
    payment = by_agent(report)["payment_agent"]
    assert payment.status == Status.DEGRADED
    assert "Timeout" in payment.error
    assert stub.count("hang") == 3
    assert_others_intact(report)


@pytest.mark.parametrize(
    "model, expected_error",
    [
        # LiteLLM's own HTTP handler words them (the openai SDK: "Connection error.").
        ("openai/drop", "InternalServerError: OpenAIException - Server disconnected"),
        ("openai/malformed", "Expecting property name enclosed in double quotes"),
        ("openai/empty-choices", "MalformedResponseError: the provider sent an empty answer"),
        (
            "openai/bad-args",
            "MalformedResponseError: the provider sent a tool call whose arguments are not JSON",
        ),
    ],
)
async def test_dropped_connections_and_malformed_answers_degrade(
    stub, no_backoff, model, expected_error
):
    report = await run(settings(model), deadline_s=30)
    payment = by_agent(report)["payment_agent"]
    assert payment.status == Status.DEGRADED, payment.error
    assert expected_error in payment.error
    assert payment.retries == 2  # two more attempts at the first call, then degraded
    assert payment.text == ARTICLE_ANSWERS["payment_agent"]
    assert_others_intact(report)


async def test_slow_answers_are_fine_within_the_deadline_and_time_out_beyond_it(stub):
    fine = by_agent(await run(settings("openai/slow-0.3"), deadline_s=10))["payment_agent"]
    assert fine.status == Status.OK and fine.elapsed_s >= 0.6
    # The model's share of a 2.5 s deadline ends 0.5 s early: the reserve for the degraded
    # answer. As the CLI does, the offline path is warmed up first: its first call in a
    # process pays for lazy imports that would not fit in the reserve.
    await warm_up()
    late = by_agent(await run(settings("openai/slow-5"), deadline_s=2.5))["payment_agent"]
    assert late.status == Status.DEGRADED and "Timeout" in late.error and late.elapsed_s < 2.5


async def test_auth_errors_are_not_retried(stub, no_backoff):
    payment = by_agent(await run(settings("openai/auth")))["payment_agent"]
    assert stub.count("auth") == 1  # one attempt, then the turn is the degraded model's
    assert payment.retries == 0
    assert payment.status == Status.DEGRADED and "AuthenticationError" in payment.error


async def test_a_fallback_model_answers_when_the_primary_fails(stub, no_backoff):
    report = await run(settings("openai/http-500", fallback_models=(HEALTHY,)))
    payment = by_agent(report)["payment_agent"]
    assert (payment.status, payment.text) == (Status.OK, ARTICLE_ANSWERS["payment_agent"])
    assert stub.count("http-500") == 6


async def test_the_circuit_opens_fails_fast_then_a_trial_call_closes_it(stub, no_backoff, tracing):
    # A provider that fails its first 2 requests, then recovers. One agent, runs in sequence,
    # one breaker shared across runs (as across agents and orders in one process).
    flaky = Settings(
        default_model="openai/flaky-500-2", circuit_threshold=2, circuit_cooldown_s=30
    )
    now = [0.0]  # the breakers' clock: the cool-down passes when the test says, not under load
    models = production_models(flaky, clock=lambda: now[0])
    (agent,) = build_order_agents(models, names=["payment_agent"])

    async def payment():
        report = await track_order("ORD-1001", [agent], tracing, limits=RunLimits())
        return report.results[0], report.trace_file

    first, first_trace = await payment()  # two failed attempts open it; the third is refused
    assert first.status == Status.DEGRADED and stub.count("flaky-500-2") == 2
    assert "InternalServerError" in first.error  # the provider's error, not just "open"
    opened = events(first_trace, "circuit.state_change")
    assert [(e["attributes"]["from"], e["attributes"]["to"]) for e in opened] == [
        (CircuitState.CLOSED, CircuitState.OPEN)
    ]

    second, second_trace = await payment()  # open: refused without contacting the provider
    assert (
        second.status == Status.DEGRADED
        and "circuit for openai/flaky-500-2 is open" in second.error
    )
    assert stub.count("flaky-500-2") == 2
    assert len(events(second_trace, "model.skipped")) == 1  # then the turn is degraded

    now[0] += 30  # the cool-down passes
    third, third_trace = await payment()  # the trial call succeeds: closed again
    assert (third.status, third.text) == (Status.OK, ARTICLE_ANSWERS["payment_agent"])
    assert stub.count("flaky-500-2") == 4
    closed = events(third_trace, "circuit.state_change")
    assert [(e["attributes"]["from"], e["attributes"]["to"]) for e in closed] == [
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


async def test_every_model_down_still_answers_from_tool_results(stub, no_backoff):
    report = await run(Settings(default_model="openai/http-500"))
    assert all(r.status == Status.DEGRADED for r in report.results)
    assert {r.agent: r.text for r in report.results} == ARTICLE_ANSWERS
    # Shared by all five agents and counting every failed attempt, the circuit opened after
    # five failures; at most four more attempts were already on their way. Without it:
    # 5 agents x 2 calls x 3 attempts = 30 requests.
    assert 5 <= stub.count("http-500") <= 9


def make_breaker(threshold=2, cooldown_s=10.0):
    now = [0.0]
    seen = []
    breaker = CircuitBreaker(
        "m",
        threshold=threshold,
        cooldown_s=cooldown_s,
        on_change=lambda n, a, b: seen.append((a, b)),
        clock=lambda: now[0],
    )
    return breaker, now, seen


def test_circuit_breaker_cycle_closed_open_half_open_closed():
    breaker, now, seen = make_breaker()
    breaker.record_failure(breaker.before_call())
    breaker.record_success(breaker.before_call())  # failures must be consecutive
    for _ in range(2):
        breaker.record_failure(breaker.before_call())
    assert breaker.state == CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # fails fast during the cool-down
    now[0] = 10.5
    trial = breaker.before_call()
    assert breaker.state == CircuitState.HALF_OPEN and trial.trial
    with pytest.raises(CircuitOpenError, match="trial in flight"):
        breaker.before_call()  # only one trial at a time
    breaker.record_failure(trial)  # the trial failed: open again, for a new cool-down
    assert breaker.state == CircuitState.OPEN
    now[0] = 21
    breaker.record_success(breaker.before_call())  # the trial succeeded: closed
    assert breaker.state == CircuitState.CLOSED
    assert seen == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_stale_verdicts_cannot_move_the_breaker():
    breaker, now, seen = make_breaker()
    early = [breaker.before_call() for _ in range(4)]  # four calls admitted while closed
    breaker.record_failure(early[0])
    breaker.record_failure(early[1])  # opens
    breaker.record_failure(early[2])  # already open: no "open -> open", cool-down not pushed
    assert seen == [(CircuitState.CLOSED, CircuitState.OPEN)] and breaker.opened_at == 0.0
    now[0] = 10.5
    trial = breaker.before_call()
    breaker.release(early[3])  # a stale call cancelled now must not free the trial slot
    with pytest.raises(CircuitOpenError, match="trial in flight"):
        breaker.before_call()
    breaker.release(trial)  # the trial itself cancelled: another trial may go
    assert breaker.before_call().trial


async def test_a_trial_interrupted_mid_call_does_not_leave_the_circuit_stuck(stub):
    # The deadline falls while the agent's tool runs, i.e. while ADK holds the model's
    # generator paused: the trial slot must still be released.
    async def slow_lookup(order_id: str) -> dict:
        """Look up an order slowly."""
        await asyncio.sleep(3)
        return {"status": "success", "order_id": order_id}

    models = production_models(Settings(default_model=HEALTHY, circuit_threshold=1))
    breaker = models("payment_agent").guards[0].for_model(HEALTHY)
    breaker.state, breaker.opened_at = CircuitState.OPEN, -100.0  # open, cool-down long over
    agent = Agent(name="slow_agent", model=models("slow_agent"), tools=[slow_lookup])
    result = (await track_order("ORD-1001", [agent], limits=RunLimits(deadline_s=2))).results[0]
    assert result.status == Status.TIMEOUT and breaker.state == CircuitState.HALF_OPEN
    assert not breaker._trial_in_flight  # released: the next call may be the trial
    (payment,) = build_order_agents(models, names=["payment_agent"])
    after = (await track_order("ORD-1001", [payment], limits=RunLimits())).results[0]
    assert after.status == Status.OK and breaker.state == CircuitState.CLOSED


async def test_a_misconfigured_endpoint_is_not_retried(stub, monkeypatch, no_backoff):
    monkeypatch.setenv("OPENAI_API_BASE", "ftp://127.0.0.1:9/v1")  # not the stub's: a bad URL
    payment = by_agent(await run(settings("openai/anything")))["payment_agent"]
    assert payment.status == Status.DEGRADED and payment.retries == 0


async def test_a_hung_primary_leaves_time_for_the_fallback(stub):
    report = await run(settings("openai/hang", fallback_models=(HEALTHY,)), deadline_s=6)
    payment = by_agent(report)["payment_agent"]
    # The primary gets half the time left (minus a reserve), then the fallback answers.
    assert (payment.status, payment.text) == (Status.OK, ARTICLE_ANSWERS["payment_agent"])
    assert payment.elapsed_s < 6


async def test_token_budget_refuses_remaining_calls():
    # A latency long enough that all five first calls are in flight before any is counted.
    offline = Settings(default_model=OFFLINE_MODEL, offline_latency_s=0.5)
    report = await run(offline, max_tokens=500)
    for result in report.results:
        assert result.status == Status.BUDGET and result.text == ""
        assert result.error.startswith("token budget of 500 for this run reached (")
        assert result.tokens > 0 and result.model_calls == 1


async def test_cost_budget_refuses_remaining_calls_and_costs_are_recorded(stub, tracing):
    priced = Settings(default_model="openai/gpt-4o")  # LiteLLM knows gpt-4o's prices
    # One call costs $0.00035: once any call has returned, every later call is refused. Calls
    # that started before that are let through (the cap is soft), so how many agents got
    # their first answer depends on timing; that each later call is refused does not.
    report = await run(priced, tracing, max_cost_usd=0.0003)
    spent = []
    for result in report.results:
        assert result.status == Status.BUDGET
        assert result.error.startswith("cost budget of $0.0003 for this run reached ($0.00")
        assert (result.tokens, result.model_calls) in {(0, 0), (110, 1)}
        assert result.cost_usd == pytest.approx(0.00035 * result.model_calls)
        spent.append(result.cost_usd)
    assert sum(spent) >= 0.00035  # the first call to return was paid for and recorded
    recorded = events(report.trace_file, "agent.result")
    assert sorted(e["attributes"]["agent"] for e in recorded) == sorted(ARTICLE_ANSWERS)
    by_agent = {e["attributes"]["agent"]: e["attributes"] for e in recorded}
    for result in report.results:
        assert by_agent[result.agent]["cost_usd"] == pytest.approx(result.cost_usd)
        assert by_agent[result.agent]["tokens"] == result.tokens


async def test_model_call_cap_per_agent():
    report = await run(Settings(default_model=OFFLINE_MODEL), max_model_calls=1)
    assert all(r.status == Status.BUDGET and "limit" in r.error for r in report.results)


async def test_a_provider_that_trickles_its_answer_cannot_outlast_the_model_timeout(stub):
    """One byte every 0.3 s keeps every read under the provider timeout; MODEL_TIMEOUT_S
    bounds the whole call, so the agent degrades well within its deadline."""
    await run(settings(HEALTHY))  # the provider path's first-call set-up, outside the bound
    start = time.perf_counter()
    report = await run(
        settings("openai/trickle-0.3", model_timeout_s=1, model_retries=0), deadline_s=30
    )
    payment = by_agent(report)["payment_agent"]
    assert payment.status == Status.DEGRADED, payment.error
    assert "ModelCallTimeout: no complete answer from openai/trickle-0.3 within 1s" in payment.error
    assert payment.text == ARTICLE_ANSWERS["payment_agent"]
    assert time.perf_counter() - start < 15  # two calls of at most 1 s each, then the offline
    assert_others_intact(report)
