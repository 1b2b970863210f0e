"""The fan-out: concurrency, isolation of failures, isolation of sessions."""

import asyncio

import pytest
from helpers import ARTICLE_ANSWERS, ProviderDown, offline_models

from order_tracking.agents.build import build_order_agents
from order_tracking.agents.specialists import SPECIALIST_NAMES
from order_tracking.async_runner import run_agent_task, run_all_agents, track_order
from order_tracking.core.results import AgentResult, RunLimits

LIMITS = RunLimits()


async def test_all_five_answer_the_article_question(models):
    results = await run_all_agents("ORD-1001", build_order_agents(models), limits=LIMITS)
    assert [r.agent for r in results] == list(SPECIALIST_NAMES)
    assert {r.agent: r.text for r in results} == ARTICLE_ANSWERS
    assert all(isinstance(r, AgentResult) and r.ok and r.error is None for r in results)


async def test_runs_overlap_so_wall_time_is_the_slowest_agent_not_the_sum():
    # 0.3 s per model call, two calls per agent: ~0.6 s each, ~3 s if run one after another.
    agents = build_order_agents(offline_models(latency_s=0.3))
    report = await track_order("ORD-1001", agents, limits=LIMITS)
    slowest = max(r.elapsed_s for r in report.results)
    assert all(r.elapsed_s >= 0.6 for r in report.results)
    # Ratios, not absolute times: the sum of agent times is ~5x the wall time when they overlap.
    assert report.sequential_estimate_s / report.wall_s > 3.5
    assert report.wall_s < 1.5 * slowest


async def test_one_failing_agent_never_sinks_the_others(models):
    def mixed(name):
        return ProviderDown(model="down") if name == "payment_agent" else models(name)

    results = await run_all_agents("ORD-1001", build_order_agents(mixed), limits=LIMITS)
    by_agent = {r.agent: r for r in results}
    failed = by_agent.pop("payment_agent")
    assert not failed.ok and failed.text == ""
    assert failed.error == "ConnectionError: payment provider is down"
    assert {name: r.text for name, r in by_agent.items()} == {
        k: v for k, v in ARTICLE_ANSWERS.items() if k != "payment_agent"
    }


async def test_each_agent_run_gets_its_own_session(models):
    agents = build_order_agents(models)
    first, second = await asyncio.gather(
        run_all_agents("ORD-1001", agents, limits=LIMITS),
        run_all_agents("ORD-1003", agents, limits=LIMITS),
    )
    sessions = [r.session_id for r in (*first, *second)]
    assert len(set(sessions)) == 10
    assert all(r.session_id.startswith(f"{r.agent}-") for r in (*first, *second))
    # The same agent objects served two orders at once without mixing their conversations.
    assert {r.agent: r.text for r in first} == ARTICLE_ANSWERS
    assert all("ORD-1001" not in r.text and "1Z999AA1012345678" not in r.text for r in second)
    assert {r.agent: r.text for r in second}["shipping_agent"] == (
        "Carrier: FedEx | Tracking: 771234567890 | Delivered: 2024-01-09"
    )


async def test_an_agent_task_re_raises_cancellation_instead_of_returning_a_result():
    (agent,) = build_order_agents(offline_models(latency_s=5), names=["payment_agent"])
    task = asyncio.create_task(run_agent_task(agent, "ORD-1001?", "s", limits=LIMITS))
    await asyncio.sleep(0.2)
    task.cancel()
    # Were CancelledError caught like other errors, the task would return a failed result.
    with pytest.raises(asyncio.CancelledError):
        await task
