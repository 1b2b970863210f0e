"""The shared spend stores (``SPEND_LIMIT_STORE``: ``sqlite:///PATH``, ``redis://``) against a
plain model of the windows, as the in-process store is; processes sharing one limit; and a
store that goes away (it fails closed, and says so once)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import TRACK_ORDER
from hypothesis import given, settings
from hypothesis import strategies as st
from brokers import RedisServer, require_redis

from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.ops.spend import DAY, HOUR, Hold, Limits, MemoryStore, Refusal, open_store
from order_tracking.ops.spend._redis import RedisStore
from order_tracking.ops.spend._rules import blocked
from order_tracking.ops.spend._sqlite import SqliteStore

STORES = ["memory", "sqlite", "redis"]
_files = itertools.count()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_store(kind: str, limits: Limits, clock: Clock, tmp_path: Path, redis_url: str):
    if kind == "memory":
        return MemoryStore(limits, clock)
    if kind == "sqlite":
        return SqliteStore(limits, tmp_path / f"spend-{next(_files)}.db", clock)
    return RedisStore(limits, redis_url, prefix=f"test:{uuid.uuid4().hex}", clock=clock)


@pytest.fixture(scope="session")
def redis_db(redis_url: str) -> str:
    """A database of the session's Redis of these tests' own."""
    return redis_url.rsplit("/", 1)[0] + "/3"


steps = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.4, 1.0, 23.0, 600.0, 3599.5, 3600.0, 86_000.0]),  # wait
        st.integers(min_value=0, max_value=600),  # the call's estimate, tokens
        st.integers(min_value=0, max_value=400_000_000),  # its estimate, nano-dollars
        st.one_of(st.none(), st.integers(min_value=0, max_value=900)),  # what it spent
    ),
    max_size=25,
)


@pytest.mark.parametrize("kind", STORES)
@settings(max_examples=60)
@given(
    steps=steps,
    limits=st.sampled_from(
        [
            Limits(hour_tokens=1000),
            Limits(hour_usd=1.0),
            Limits(day_tokens=1500, hour_tokens=1000),
            Limits(day_usd=0.7, hour_tokens=2000),
        ]
    ),
    part=st.floats(min_value=0.01, max_value=1.0),
)
def test_a_store_agrees_with_a_plain_model_of_the_windows(
    kind, steps, limits, part, tmp_path_factory, redis_db
):
    """Each call is admitted exactly when the model's windows have room for its estimate,
    holds it, is settled to what it spent; new orders are refused exactly when a window is
    full, and free exactly ``retry_after`` later, never later than the window."""
    clock = Clock()
    store = make_store(kind, limits, clock, tmp_path_factory.getbasetemp(), redis_db)
    kept: list[list[float]] = []  # [when, tokens, nanos]: every hold, as settled

    def used(window, at):
        live = [(t, n) for when, t, n in kept if window.ends(window.slot(when)) > at]
        return sum(t for t, _ in live), sum(n for _, n in live)

    def full(need=(0, 0)):
        return any(blocked(w, limits, used(w, clock.now), need) for w in (HOUR, DAY))

    async def run():
        try:
            for wait, tokens, cost, spent in steps:
                clock.now += wait
                expected = not full((tokens, cost))
                outcome = await store.reserve(tokens, cost)
                assert isinstance(outcome, Hold) == expected, (outcome, kept)
                if isinstance(outcome, Hold):
                    kept.append([clock.now, tokens, cost])
                    if spent is not None:
                        await store.settle(outcome, spent, cost)
                        kept[-1][1] = spent
                else:
                    assert 0 < outcome.retry_after_s <= DAY.seconds
            refusal = await store.check()
            assert (refusal is not None) == full()
            if refusal is not None:
                assert 0 < refusal.retry_after_s <= DAY.seconds
                free_at = clock.now + refusal.retry_after_s
                clock.now = max(clock.now, free_at - part * min(1.0, refusal.retry_after_s))
                if clock.now < free_at:
                    assert await store.check() is not None and full()
                clock.now = free_at
                assert await store.check() is None and not full()
        finally:
            await store.aclose()

    asyncio.run(run())


async def test_a_shared_store_shows_every_process_its_holds(tmp_path, redis_db):
    """Two stores on one file or one Redis are two processes' views of one window."""
    limits = Limits(hour_tokens=1000)
    for kind in ("sqlite", "redis"):
        clock = Clock()
        if kind == "sqlite":
            path = tmp_path / "shared.db"
            one, two = SqliteStore(limits, path, clock), SqliteStore(limits, path, clock)
        else:
            prefix = f"test:{uuid.uuid4().hex}"
            one = RedisStore(limits, redis_db, prefix=prefix, clock=clock)
            two = RedisStore(limits, redis_db, prefix=prefix, clock=clock)
        held = await one.reserve(700, 0)
        assert isinstance(held, Hold)
        refused = await two.reserve(700, 0)
        assert isinstance(refused, Refusal) and "700 in the last hour" in refused.reason
        await one.settle(held, 200, 0)
        assert isinstance(await two.reserve(700, 0), Hold)
        assert (await one.spent()).hour_tokens == 900 == two.seen().hour_tokens
        await one.aclose()
        await two.aclose()


def _batch(env: dict[str, str], ids: Path, concurrency: int, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [TRACK_ORDER, "--json", "--concurrency", str(concurrency), "--file", str(ids)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _spent(processes: list[subprocess.Popen]) -> tuple[int, int]:
    """Tokens the processes' orders spent, and how many agent runs ended ``budget``."""
    agents = []
    for proc in processes:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode in (0, 1), err
        agents += [a for line in out.splitlines() for a in json.loads(line)["agents"]]
    return sum(a["tokens"] for a in agents), sum(a["status"] == "budget" for a in agents)


@pytest.mark.parametrize("store", ["sqlite", "redis", "memory"])
def test_two_processes_sharing_one_limit_spend_past_it_by_at_most_the_calls_in_flight(
    store, tmp_path, redis_db
):
    """Each process has two agent runs (so at most two model calls) in flight. With
    ``memory`` (the control) each process has a limit of its own: together they spend about
    twice it, which the bound catches."""
    limit, concurrency, biggest_call = 12_000, 2, 1_000  # offline calls here: at most ~920
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(["ORD-1001", "ORD-1002", "ORD-1003"] * 4) + "\n")
    where = {
        "sqlite": f"sqlite:///{tmp_path / 'spend.db'}",
        "redis": redis_db,
        "memory": "memory",
    }[store]
    if store == "redis":
        import redis

        redis.Redis.from_url(redis_db).flushdb()
    env = dict(
        os.environ,
        MAX_TOKENS_PER_HOUR=str(limit),
        SPEND_LIMIT_STORE=where,
        OFFLINE_MODEL_LATENCY_S="0.05",  # calls in flight in both processes at once
        TRACE_SAMPLE_RATIO="0",
    )
    spent, refused = _spent([_batch(env, ids, concurrency, tmp_path) for _ in "ab"])
    bound = limit + 2 * concurrency * biggest_call
    assert refused, "the limit was never reached: the test proves nothing"
    if store == "memory":
        assert spent > bound, spent
    else:
        assert spent <= bound, spent


async def test_a_redis_store_that_goes_away_refuses_and_says_so_once(tmp_path, capsys):
    """Fails closed: while the store cannot be reached nothing is spent, every refusal says
    why; the log says it once when it starts and once when the store answers again."""
    limits = Limits(hour_tokens=10_000)
    require_redis()
    with RedisServer(tmp_path) as server:
        store = RedisStore(limits, server.url, prefix="test:gone")
        assert isinstance(await store.reserve(100, 0), Hold)
        server.stop()
        refusals = [await store.reserve(100, 0) for _ in range(5)]
        assert all(isinstance(r, Refusal) for r in refusals)
        assert refusals[0].reason == (
            f"the spend limit store {server.url} cannot be reached; nothing is taken until it "
            "answers (retry in 5s)"
        )
        assert (await store.check()) is not None  # new orders too
        err = capsys.readouterr().err
        assert err.count("cannot be reached") == 1, err
        assert "model calls and new orders are refused until it answers" in err
        with RedisServer(tmp_path) as again:
            store.url = again.url
            await store.aclose()  # a new connection to the new address
            assert isinstance(await store.reserve(100, 0), Hold)
            assert isinstance(await store.reserve(100, 0), Hold)
        assert capsys.readouterr().err.count("answers again") == 1
        await store.aclose()


async def test_an_order_whose_store_cannot_be_reached_ends_budget_with_the_reason(
    tmp_path, tracing
):
    from order_tracking.composition import build, production_models
    from order_tracking.ops.watch import Watch

    missing = tmp_path / "no-such-folder" / "spend.db"
    settings_ = Settings(
        default_model=OFFLINE_MODEL,
        max_tokens_per_hour=10_000,
        spend_limit_store=f"sqlite:///{missing}",
    )
    watch = Watch.for_settings(settings_)
    assert isinstance(watch.spend, SqliteStore)
    tracker = build(settings_, models=production_models(settings_, watch), watch=watch)
    report = await tracker.track_order("ORD-1001")
    assert {r.status for r in report.results} == {"budget"}
    assert report.results[0].error.startswith(
        f"the spend limit store sqlite:///{missing} cannot be reached"
    )


def test_without_a_limit_the_store_is_this_process_whatever_it_names():
    settings_ = Settings(default_model=OFFLINE_MODEL, spend_limit_store="redis://127.0.0.1:1/0")
    assert isinstance(open_store(settings_), MemoryStore)
