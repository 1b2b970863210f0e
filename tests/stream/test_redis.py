"""The consumer on a real Redis (Debian's redis-server, started for the session): events
shared by a group, what a dead member held claimed by another, a poison message
dead-lettered after its redeliveries, answered ids kept as keys with a TTL."""

from __future__ import annotations

import asyncio
import json

from brokers import redis_add, redis_messages
from stream_consumers import RecordingAnswer, names, options, run_consumer

from order_tracking.stream import StreamMetrics


def event(event_id: str, order_id: str = "ORD-1001") -> bytes:
    return json.dumps({"id": event_id, "order_id": order_id}).encode()


async def test_redis_streams_with_a_consumer_group(redis_url):
    where = names("redis")
    group = where["group"]
    # Two events a member took and died with (never acknowledged): claimed once idle.
    await redis_add(
        redis_url, where["topic"], [event("held-1"), event("held-2")], take_as=f"{group}/ghost"
    )
    ids = [f"r{i}" for i in range(40)]
    await redis_add(
        redis_url,
        where["topic"],
        [*map(event, ids), b"not json", event("poison-1", "ORD-6666"), event("r0")],
    )
    answer = RecordingAnswer(poison=frozenset({"ORD-6666"}))
    metrics = StreamMetrics()
    one, two = await asyncio.gather(
        run_consumer(
            redis_url,
            answer,
            options(where, consumer="a", max_deliveries=2, idle_s=2.5),
            metrics=metrics,
        ),
        run_consumer(redis_url, answer, options(where, consumer="b", max_deliveries=2, idle_s=2.5)),
    )
    assert set(answer.calls) == {*ids, "held-1", "held-2", "poison-1"}
    assert {k: v for k, v in answer.calls.items() if k != "poison-1"} == dict.fromkeys(
        [*ids, "held-1", "held-2"], 1
    )
    results = [json.loads(b) for b in await redis_messages(redis_url, where["results"])]
    assert sorted(r["event_id"] for r in results) == sorted([*ids, "held-1", "held-2"])
    letters = [json.loads(b) for b in await redis_messages(redis_url, where["dead_letter"])]
    reasons = sorted(x["reason"] for x in letters)
    assert reasons[0].startswith("delivered 3 times without an answer (last failure: RuntimeError")
    assert reasons[1].startswith("not JSON")
    assert metrics.lag._value.get() >= 0  # the group's lag, as Redis reports it
    assert one.answered + two.answered == 42 and one.already_answered + two.already_answered == 1


def envelope(body: bytes, headers: object) -> bytes:
    """FastStream's JSON envelope, as any producer may write it, with ``headers`` as given."""
    return json.dumps({"data": body.decode(), "headers": headers}).encode()


async def test_envelopes_from_strangers_are_answered_or_dead_lettered_never_left_pending(
    redis_url,
):
    """Headers that are not text → text made FastStream's parser fail before the consumer
    saw the message: it stayed pending, was claimed again forever and never dead-lettered.
    A ``reply_to`` header made FastStream publish to that channel with the consumer's
    credentials."""
    from redis.asyncio import Redis

    where = names("envelope")
    spy_channel = f"{where['topic']}-spy"
    client = Redis.from_url(redis_url)
    spy = client.pubsub()
    await spy.subscribe(spy_channel)
    try:
        await redis_add(
            redis_url,
            where["topic"],
            [
                envelope(event("env-1"), "not a mapping"),
                envelope(event("env-2"), [1, 2]),
                envelope(event("env-3"), {"traceparent": 5}),
                envelope(event("env-4"), {"reply_to": spy_channel}),
                event("plain-1"),
            ],
        )
        summary = await run_consumer(redis_url, RecordingAnswer(), options(where, idle_s=1.5))
        assert (summary.answered, summary.dead_lettered) == (3, 2)
        answered = [
            json.loads(b)["event_id"] for b in await redis_messages(redis_url, where["results"])
        ]
        assert sorted(answered) == ["env-3", "env-4", "plain-1"]
        letters = [json.loads(b) for b in await redis_messages(redis_url, where["dead_letter"])]
        assert all('unknown field "data"' in x["reason"] for x in letters), letters
        assert (await client.xpending(where["topic"], where["group"]))["pending"] == 0
        heard = [await spy.get_message(timeout=0.2) for _ in range(5)]
        assert [m["type"] for m in heard if m is not None] == ["subscribe"], heard
    finally:
        await spy.aclose()
        await client.aclose()


async def test_an_answer_slower_than_the_redelivery_time_is_not_answered_twice(redis_url):
    """Redis has no "in progress": an entry pending longer than the redelivery time was
    claimed by the other member and answered again, every slow order twice. The consumer
    keeps its entries fresh (XCLAIM to itself, JUSTID) while it works on them."""
    where = names("slow")
    await redis_add(redis_url, where["topic"], [event(f"s{i}") for i in range(4)])
    answer = RecordingAnswer(delay_s=4.0)
    slow = options(where, consumer="a", redeliver_after_s=1.5, idle_s=2)
    first = asyncio.create_task(run_consumer(redis_url, answer, slow))
    while len(answer.calls) < 4:  # "a" holds every entry: "b" comes while they are answered
        await asyncio.sleep(0.05)
    two = await run_consumer(redis_url, answer, options(where, consumer="b", idle_s=2))
    one = await first
    assert dict(answer.calls) == {"s0": 1, "s1": 1, "s2": 1, "s3": 1}
    assert one.answered + two.answered == 4
    results = [json.loads(b)["event_id"] for b in await redis_messages(redis_url, where["results"])]
    assert sorted(results) == ["s0", "s1", "s2", "s3"]
