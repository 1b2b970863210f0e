"""The hourly spend limit (`MAX_COST_USD_PER_HOUR`, `MAX_TOKENS_PER_HOUR`): hit and freed
with an injected clock, on its own, in the service (503 + Retry-After, /ready) and on the
command line (`budget`)."""

from __future__ import annotations

import math
from fractions import Fraction

import httpx
import pytest
from helpers import ARTICLE_ANSWERS, run_cli
from hypothesis import example, given, settings
from hypothesis import strategies as st

from order_tracking.composition import build, production_models
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.http.service import create_app
from order_tracking.ops.spend_limit import SpendLimit
from order_tracking.ops.watch import Watch


class Clock:
    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_limit_is_hit_then_freed_as_the_hour_rolls_on():
    clock = Clock()
    limit = SpendLimit(max_cost_usd=1.0, clock=clock)
    assert limit.refusal() is None
    limit.charge(100, 0.6)
    clock.now += 600
    limit.charge(100, 0.5)
    refusal = limit.refusal()
    assert refusal is not None
    # The first charge leaves the window 3600 s after its second began: 3000 s from now.
    assert refusal.retry_after_s == 3001.0 and refusal.retry_after_header == "3001"
    assert refusal.reason == (
        "hourly spend limit of $1.00 reached ($1.10 in the last hour); "
        "new orders are taken again in 3001s"
    )
    clock.now += 3000.5
    assert limit.refusal() is not None and limit.refusal().retry_after_header == "1"
    clock.now += 0.5
    assert limit.refusal() is None
    assert limit.spent() == (100, 0.5)


def test_the_token_limit_and_no_limit():
    clock = Clock()
    tokens = SpendLimit(max_tokens=1000, clock=clock)
    tokens.charge(999, 0.0)
    assert tokens.refusal() is None
    tokens.charge(1, 0.0)
    assert tokens.refusal().reason.startswith(
        "hourly token limit of 1000 reached (1000 in the last hour)"
    )
    unlimited = SpendLimit(clock=clock)
    unlimited.charge(10**9, 10**6)
    assert not unlimited.enabled and unlimited.refusal() is None


def test_the_window_stays_an_hour_long_even_when_nobody_asks():
    """No limit, no scrape, no /ready: charging alone keeps at most an hour of buckets."""
    clock = Clock(0.0)
    limit = SpendLimit(clock=clock)
    for _ in range(20_000):
        clock.now += 1
        limit.charge(1, 0.0)
    assert len(limit._buckets) <= 3601
    # One-second buckets: the one charged exactly an hour ago is still in (erring on the side
    # of the limit, by at most a second of spend).
    assert limit.spent() == (3601, 0.0)


charges = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=2000, allow_nan=False),  # seconds until this charge
        st.integers(min_value=0, max_value=500),
        st.floats(min_value=0, max_value=0.5, allow_nan=False),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    charges=charges,
    max_cost=st.sampled_from([0.0, 0.5, 2.0]),
    max_tokens=st.sampled_from([0, 300, 2000]),
    part=st.floats(min_value=0.001, max_value=1.0),
)
@example(
    charges=[(0.0, 0, 0.29046468973497436), (1.0, 0, 0.5)], max_cost=0.5, max_tokens=0, part=0.5
)
@example(
    charges=[(0.0, 0, 0.1), (0.0, 0, 0.2), (0.0, 0, 0.2)], max_cost=0.5, max_tokens=0, part=0.5
)
def test_refusal_matches_the_sums_of_the_last_hour_and_its_retry_time_is_exact(
    charges, max_cost, max_tokens, part
):
    """Against a plain model of the window (every charge kept with its second): refused
    exactly when a limit is reached, and free exactly ``retry_after`` later. (It found the
    retry time computed by subtracting floats: $0.79 - $0.29 came out under a $0.50 limit.)"""
    clock = Clock(0.0)
    limit = SpendLimit(max_cost_usd=max_cost, max_tokens=max_tokens, clock=clock)
    kept: list[tuple[int, int, float]] = []
    for wait, tokens, cost in charges:
        clock.now += wait
        limit.charge(tokens, cost)
        if tokens or cost:
            kept.append((math.floor(clock.now), tokens, cost))

    def over(at: float) -> bool:
        live = [(t, c) for second, t, c in kept if second + 1 > at - 3600]
        # Exact sums: the limit holds whatever order the charges are added in.
        used_tokens, used_cost = sum(t for t, _ in live), sum(Fraction(c) for _, c in live)
        return bool(
            (max_cost and used_cost >= Fraction(max_cost))
            or (max_tokens and used_tokens >= max_tokens)
        )

    refusal = limit.refusal()
    assert (refusal is not None) == over(clock.now)
    if refusal is not None:
        assert 0 < refusal.retry_after_s <= 3601
        free_at = clock.now + refusal.retry_after_s
        # Not free a moment before (asked again: the second refusal reuses the first's time).
        clock.now = max(clock.now, free_at - part * min(1.0, refusal.retry_after_s))
        if clock.now < free_at:
            again = limit.refusal()
            assert again is not None and over(clock.now)
            assert again.retry_after_s == pytest.approx(free_at - clock.now, abs=1e-9)
        clock.now = free_at
        assert limit.refusal() is None and not over(clock.now)


class CountingLimit(SpendLimit):
    walks = 0

    def _frees_at(self, tokens, cost):
        self.walks += 1
        return super()._frees_at(tokens, cost)


def test_a_refused_check_walks_the_window_once_until_the_next_charge():
    """Clients retry when refused: a full hour's walk per refusal (3,600 buckets) blocked the
    event loop ~15 ms each. The free-up time is worked out once and kept until a charge."""
    clock = Clock(0.0)
    limit = CountingLimit(max_cost_usd=1.0, clock=clock)
    for _ in range(3599):
        limit.charge(0, 0.0001)
        clock.now += 1
    limit.charge(0, 5.0)
    first = limit.refusal()
    for _ in range(200):
        clock.now += 0.5
        assert limit.refusal() is not None
    assert limit.walks == 1
    limit.charge(10, 0.0)
    later = limit.refusal()
    assert limit.walks == 2 and later.retry_after_s == pytest.approx(first.retry_after_s - 100)


def limited_service(clock: Clock, **limits):
    settings_ = Settings(default_model=OFFLINE_MODEL, **limits)
    watch = Watch.for_settings(settings_, clock=clock)
    tracker = build(settings_, models=production_models(settings_, watch), watch=watch)
    return tracker, create_app(tracker)


async def test_the_service_refuses_new_orders_with_retry_after_until_the_window_frees(tracing):
    clock = Clock()
    tracker, app = limited_service(clock, max_tokens_per_hour=1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://test"
    ) as client:
        first = await client.post("/orders/ORD-1001/track")  # under the limit when it starts
        assert first.status_code == 200
        assert [a["text"] for a in first.json()["agents"]] == list(ARTICLE_ANSWERS.values())
        refused = await client.post("/orders/ORD-1002/track")
        streamed = await client.get("/orders/ORD-1002/track/stream")
        ready = await client.get("/ready")
        clock.now += 3601
        ready_again = await client.get("/ready")
        again = await client.post("/orders/ORD-1002/track")
        metrics = (await client.get("/metrics")).text
    assert refused.status_code == 503 and refused.headers["retry-after"] == "3601"
    assert refused.json()["detail"].startswith("hourly token limit of 1 reached (")
    assert streamed.status_code == 503 and streamed.headers["retry-after"] == "3601"
    assert ready.status_code == 503 and ready.headers["retry-after"] == "3601"
    assert again.status_code == 200 and ready_again.status_code == 200
    assert ready_again.json()["last_hour"]["max_tokens"] == 1
    assert 'order_tracking_orders_refused_total{reason="budget"} 2.0' in metrics
    assert "order_tracking_token_limit_per_hour 1.0" in metrics


async def test_an_order_refused_by_the_limit_is_budget_for_every_agent_and_runs_nothing(tracing):
    clock = Clock()
    tracker, _ = limited_service(clock, max_cost_usd_per_hour=0.5)
    tracker.watch.spend.charge(0, 0.5)
    seen = []
    report = await tracker.track_order("ORD-1001", on_result=lambda _o, r: seen.append(r))
    assert [r.status for r in report.results] == ["budget"] * 5 and seen == list(report.results)
    assert {r.model_calls for r in report.results} == {0}
    assert report.trace_file is None and report.trace_error is None
    assert report.results[0].error == (
        "hourly spend limit of $0.50 reached ($0.50 in the last hour); "
        "new orders are taken again in 3601s"
    )


def test_the_command_line_says_budget_for_orders_past_the_limit(capsys, cli_env, monkeypatch):
    monkeypatch.setenv("MAX_TOKENS_PER_HOUR", "1")
    code, out, err = run_cli(capsys, "ORD-1001", "ORD-1003", "--concurrency", "1")
    assert code == 1, err
    first, second = out.split("=== Order Tracking Results for ")[1:3]
    assert "BUDGET" not in first and second.startswith("ORD-1003 ===")
    for agent in ARTICLE_ANSWERS:  # the first order spent the hour's tokens: none run
        assert f"[{agent}]\nBUDGET: hourly token limit of 1 reached (" in second
    assert "ORD-1003   0       5    0.00       0" in out


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("MAX_COST_USD_PER_HOUR", "-1", "MAX_COST_USD_PER_HOUR must not be negative, got '-1'"),
        ("MAX_TOKENS_PER_HOUR", "1.5", "MAX_TOKENS_PER_HOUR must be a whole number, got '1.5'"),
    ],
)
def test_a_bad_limit_is_a_one_line_error(capsys, monkeypatch, name, raw, message):
    monkeypatch.setenv(name, raw)
    assert run_cli(capsys, "ORD-1001") == (2, "", f"track-order: error: {message}\n")
