"""LiteLLM's response cache (``MODEL_CACHE``): the same facts are never paid for twice; any
changed fact is a real call; a cached answer is free, checked, counted and traced; a Redis
cache that goes away is skipped."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import litellm
import pytest
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types
from helpers import ARTICLE_ANSWERS, load_trace, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from brokers import RedisServer, require_redis

from order_tracking.agents.build import build_order_agents
from order_tracking.agents.specialists import SPECIALISTS
from order_tracking.agents.tools import build_tools
from order_tracking.backends import mock_backends
from order_tracking.backends._mock import ARTICLE_ORDERS
from order_tracking.composition import build, production_models
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.models.cache import configure_model_cache
from order_tracking.models.resilience import RunUsage, bind_usage

OFF = Settings(default_model=OFFLINE_MODEL)


@pytest.fixture(autouse=True)
def _cache_off_afterwards() -> Iterator[None]:
    """LiteLLM's cache is process-wide: no test leaves it on for the next."""
    yield
    configure_model_cache(OFF)


def fresh(settings: Settings) -> None:
    """The cache these settings name, empty."""
    configure_model_cache(OFF)
    configure_model_cache(settings)


def stored() -> int:
    """Answers in the cache now, whichever kind it is."""
    backend = litellm.cache.cache
    if hasattr(backend, "cache_dict"):
        return len(backend.cache_dict)
    if hasattr(backend, "disk_cache"):
        return len(backend.disk_cache)
    return len(backend.redis_client.keys("order_tracking:model:*"))


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """LiteLLM writes an answer to its cache in a task of its own, after the call returns."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the cache never got its answers"
        await asyncio.sleep(0.01)


def events(report: Any, result: str) -> list[dict[str, Any]]:
    return [
        e["attributes"]
        for span in load_trace(report.trace_file)
        for e in span.get("events", [])
        if e["name"] == "model.cache" and e["attributes"]["result"] == result
    ]


@pytest.mark.parametrize("kind", ["memory", "disk", "redis"])
async def test_the_same_order_twice_is_answered_from_the_cache_and_costs_nothing(
    kind, stub, tracing, tmp_path, redis_url
):
    where = {"memory": "memory", "disk": f"disk:{tmp_path / 'cache'}", "redis": redis_url}[kind]
    settings_ = Settings(default_model="openai/cached-model", model_cache=where)
    fresh(settings_)
    if kind == "redis":
        for key in litellm.cache.cache.redis_client.keys("order_tracking:model:*"):
            litellm.cache.cache.redis_client.delete(key)
    tracker = build(settings_)
    first = await tracker.track_order("ORD-1001")
    await until(lambda: stored() == 10)
    assert stub.count("cached-model") == 10  # five agents, two calls each
    second = await tracker.track_order("ORD-1001")
    assert stub.count("cached-model") == 10  # not one more call

    assert {r.agent: r.text for r in second.results} == ARTICLE_ANSWERS
    assert all(not r.cached and r.tokens for r in first.results)
    for result in second.results:  # free, and still checked against this run's tool results
        assert result.cached and result.cached_calls == 2 and result.model_calls == 2
        assert (result.status, result.verified, result.tokens, result.cost_usd) == (
            "ok",
            True,
            0,
            0.0,
        )
    assert len(events(first, "miss")) == 10 and not events(first, "hit")
    hits = events(second, "hit")
    assert len(hits) == 10 and not events(second, "miss")
    assert sum(h["saved_tokens"] for h in hits) == sum(r.tokens for r in first.results)
    metrics = tracker.watch.metrics.exposition().decode()
    lookups = 'order_tracking_model_cache_lookups_total{model="openai/cached-model",result='
    assert f'{lookups}"hit"}} 10.0' in metrics and f'{lookups}"miss"}} 10.0' in metrics
    saved = sum(r.tokens for r in first.results)
    assert (
        f'order_tracking_model_cache_saved_tokens_total{{model="openai/cached-model"}} {saved:.1f}'
        in metrics
    )
    assert 'order_tracking_model_calls_total{model="openai/cached-model"} 10.0' in metrics


def changed(orders: list[dict[str, Any]], path: tuple[Any, ...], value: Any) -> None:
    target: Any = orders
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


async def test_a_changed_fact_is_a_real_call_for_the_agents_that_read_it(stub, tracing):
    settings_ = Settings(default_model="openai/facts-model", model_cache="memory")
    fresh(settings_)
    orders = copy.deepcopy(list(ARTICLE_ORDERS))
    before = build(settings_, backends=mock_backends(orders=orders))
    await before.track_order("ORD-1001")
    await until(lambda: stored() == 10)
    changed(orders, (0, "shipment", "eta"), "2024-01-19")  # the carrier moved the date
    after = build(settings_, backends=mock_backends(orders=orders))
    report = await after.track_order("ORD-1001")
    by_agent = {r.agent: r for r in report.results}
    readers = {"shipping_agent", "support_agent"}  # the agents whose tools return the ETA
    for agent, result in by_agent.items():
        assert result.cached == (agent not in readers), agent
        assert result.status == "ok" and result.verified, (agent, result.text)
    assert "ETA: 2024-01-19" in by_agent["shipping_agent"].text
    assert "January 19th" in by_agent["support_agent"].text
    # Their first call (which tool to call) is the same question: answered from the cache.
    assert {by_agent[a].cached_calls for a in readers} == {1}
    assert stub.count("facts-model") == 10 + 2


# One fact of ORD-1001 each, and the tools that return it.
FACTS: dict[tuple[Any, ...], tuple[st.SearchStrategy[Any], set[str]]] = {
    (0, "status"): (
        st.sampled_from(["processing", "cancelled", "delivered"]),
        {"get_order_status"},
    ),
    (0, "shipment", "eta"): (
        st.dates(date(2023, 1, 1), date(2027, 12, 31)).map(lambda d: d.isoformat()),
        {"get_shipping_details"},
    ),
    (0, "shipment", "carrier"): (
        st.sampled_from(["FedEx", "DHL", "USPS"]),
        {"get_shipping_details"},
    ),
    (0, "shipment", "tracking_number"): (
        st.from_regex(r"1Z[0-9A-Z]{16}", fullmatch=True),
        {"get_shipping_details"},
    ),
    (0, "payment", "status"): (st.sampled_from(["authorized", "refunded"]), {"get_payment_status"}),
    (0, "payment", "amount"): (
        st.decimals(min_value=1, max_value=9999, places=2).map(float),
        {"get_payment_status"},
    ),
    (0, "placed_date"): (
        st.dates(date(2023, 1, 1), date(2024, 1, 14)).map(lambda d: d.isoformat()),
        {"get_order_status"},
    ),
}


@settings(max_examples=12)
@given(data=st.data(), fact=st.sampled_from(sorted(FACTS, key=str)))
def test_a_cache_hit_for_a_request_whose_tool_result_changed_is_impossible(data, fact):
    """Property: change one fact of an order between two asks; every agent whose tools
    returned something different makes a real call for its answer, and answers with the new
    fact (the answer check finds every claim in this run's tool results); the others are
    answered from the cache."""
    strategy, tools_reading = FACTS[fact]
    orders = copy.deepcopy(list(ARTICLE_ORDERS))
    original = copy.deepcopy(orders[0])
    value = data.draw(strategy.filter(lambda v: _fact(original, fact[1:]) != v), label="value")
    settings_ = Settings(default_model=OFFLINE_MODEL, model_cache="memory")

    async def ask(backends):
        tracker = build(settings_, backends=backends, traced=False)
        report = await tracker.track_order("ORD-1001")
        await until(lambda: stored() >= 10)
        return {r.agent: r for r in report.results}

    async def run():
        fresh(settings_)
        await ask(mock_backends(orders=copy.deepcopy(orders)))
        changed(orders, fact, value)
        return await ask(mock_backends(orders=orders))

    second = asyncio.run(run())
    old, new = (
        build_tools(mock_backends(orders=[original])),
        build_tools(mock_backends(orders=orders)),
    )

    def differs(tool: str) -> bool:
        return asyncio.run(old[tool](order_id="ORD-1001")) != asyncio.run(
            new[tool](order_id="ORD-1001")
        )

    changed_tools = {t for t in old if differs(t)}
    assert changed_tools & tools_reading, "the change is not in any tool result: proves nothing"
    for spec in SPECIALISTS:
        result = second[spec.name]
        if changed_tools & set(spec.tools):
            assert not result.cached, (spec.name, fact, value)
        else:
            assert result.cached, (spec.name, fact, value)
        assert result.status == "ok" and result.verified, (spec.name, result.text)


def _fact(record: dict[str, Any], path: tuple[Any, ...]) -> Any:
    for step in path:
        record = record[step]
    return record


@given(
    result=st.dictionaries(st.sampled_from(["status", "eta", "carrier"]), st.text(max_size=20)),
    key=st.sampled_from(["status", "eta", "carrier"]),
    value=st.text(max_size=20),
)
def test_the_cache_key_is_the_whole_request_every_tool_result_in_it(result, key, value):
    """LiteLLM's key for two requests that differ in one tool-result value differs."""
    from litellm.caching.caching import Cache

    other = {**result, key: value}
    cache = Cache(type="local", max_messages=None)

    def key_of(tool_result: dict[str, str]) -> str:
        messages = [
            {"role": "system", "content": "You track orders."},
            {"role": "user", "content": "What is the status of order ORD-1001?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_order_status", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(tool_result)},
        ]
        return cache.get_cache_key(model="openai/m", messages=messages, tools=[])

    assert (key_of(result) == key_of(other)) == (result == other)
    litellm.disable_cache()


async def test_a_streamed_answer_comes_from_the_cache_too(stub, tracing):
    settings_ = Settings(default_model="openai/streamed-model", model_cache="memory")
    fresh(settings_)
    (agent,) = build_order_agents(production_models(settings_), names=["payment_agent"])

    async def chat() -> tuple[str, RunUsage]:
        usage = RunUsage()
        sessions = InMemorySessionService()
        runner = Runner(agent=agent, app_name="t", session_service=sessions)
        session = await sessions.create_session(app_name="t", user_id="u")
        text = ""
        message = types.Content(role="user", parts=[types.Part(text="Status of ORD-1001?")])
        with bind_usage(usage):
            async for event in runner.run_async(
                user_id="u",
                session_id=session.id,
                new_message=message,
                run_config=RunConfig(streaming_mode=StreamingMode.SSE),
            ):
                if event.is_final_response() and event.content and event.content.parts:
                    text = "".join(p.text or "" for p in event.content.parts)
        await runner.close()
        return text, usage

    text, usage = await chat()
    await until(lambda: stored() == 2)
    again, cached = await chat()
    assert again == text == ARTICLE_ANSWERS["payment_agent"]
    assert stub.count("streamed-model") == 2
    assert (usage.cache_misses, usage.cache_hits) == (2, 0) and usage.tokens > 0
    assert (cached.cache_hits, cached.tokens) == (2, 0) and cached.saved_tokens == usage.tokens


def test_the_command_line_says_cached_per_agent(capsys, cli_env, monkeypatch):
    monkeypatch.setenv("MODEL_CACHE", "memory")
    first = json.loads(run_cli(capsys, "--json", "ORD-1002")[1])
    time.sleep(0.2)  # the cache's writes end with the first process's event loop
    second = json.loads(run_cli(capsys, "--json", "ORD-1002")[1])
    assert [a["cached"] for a in first["agents"]] == [False] * 5
    assert [a["cached"] for a in second["agents"]] == [True] * 5
    assert [a["text"] for a in second["agents"]] == [a["text"] for a in first["agents"]]


async def test_a_redis_cache_that_goes_away_is_skipped_and_said_once(
    stub, tracing, tmp_path: Path, capsys
):
    """LiteLLM also keeps what this process read or wrote in memory (its ``DualCache``): an
    answer seen here is still served; any other goes to the provider."""
    require_redis()
    with RedisServer(tmp_path) as server:
        settings_ = Settings(default_model="openai/gone-model", model_cache=server.url)
        fresh(settings_)
        tracker = build(settings_)
        await tracker.track_order("ORD-1003")
        await until(lambda: stored() == 10)
        server.stop()
        reports = [await tracker.track_order(order) for order in ("ORD-1001", "ORD-1002")]
        seen_here = await tracker.track_order("ORD-1003")
    for report in reports:  # every order answered, by the provider
        assert [(r.status, r.cached) for r in report.results] == [("ok", False)] * 5, [
            r.error for r in report.results
        ]
    assert all(r.cached for r in seen_here.results)
    assert stub.count("gone-model") == 30
    await asyncio.sleep(0.1)  # LiteLLM reports a Redis failure from a task of its own
    err = capsys.readouterr().err
    assert err.count("MODEL_CACHE: Redis cannot be reached") == 1, err
    assert "the cache is skipped, every model call goes to the provider" in err
