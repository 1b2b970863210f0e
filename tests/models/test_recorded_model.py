"""A real (tiny, local) model's recorded responses, replayed through the whole path: LiteLLM's
OpenAI provider, ADK, retries, the degraded answer, the answer check, as ``track-order`` runs
them. Every shape the model produced (empty answers, arguments that are not JSON, made-up ids,
prose where a tool call was due, answers cut off, HTML-escaped quotes) is a regression test.

The recordings are ``tests/fixtures/model_responses/*.json``, made with
``scripts/record_model_responses.py`` (how: docs/local-model.md). A request the recording has
no answer for fails the test: the flow changed since it was recorded, record it again.
"""

import json
from collections import defaultdict

import pytest
import replay
from replay import FIXTURES, shape

from order_tracking import composition
from order_tracking.agents.specialists import AGENT_NAMES, SPECIALISTS
from order_tracking.async_runner import prompt_for
from order_tracking.core.results import Status
from order_tracking.core.settings import OFFLINE_MODEL, Settings

RECORDINGS = sorted(FIXTURES.glob("*.json"))
TOOLS = {s.name: tuple(sorted(s.tools)) for s in SPECIALISTS}
# What a run on the model may end as: whatever the model did, never an error or a hang.
KEPT = {Status.OK, Status.DEGRADED, Status.UNVERIFIED}


def test_there_are_recordings():
    assert RECORDINGS, "no recorded model responses: see docs/local-model.md"


async def _offline_answers(orders):
    """Each order's answers from the tools alone: what a degraded answer must say."""
    app = composition.build(Settings(default_model=OFFLINE_MODEL), traced=False)
    return {o: {r.agent: r.text for r in (await app.track_order(o)).results} for o in orders}


@pytest.fixture(params=RECORDINGS, ids=lambda path: path.stem)
async def replayed(request, stub):
    """(recording, replay, [(order id, result)]) once the recording has been replayed."""
    recording = replay.load(request.param)
    recorded = recording["recorded"]
    env = {
        **recorded["settings"],
        "SHIPPING_MODEL": "openai/replay",
        # Answers come at once here: no need for the recording's long timeouts.
        "MODEL_TIMEOUT_S": "30",
        "AGENT_TIMEOUT_S": "120",
    }
    app = composition.build(Settings.from_env(env, agent_names=AGENT_NAMES), traced=False)
    results = []
    with stub.replaying(recording) as served:
        for _ in range(recorded["rounds"]):
            await app.track_orders(
                recorded["orders"], concurrency=1, on_result=lambda o, r: results.append((o, r))
            )
    assert not served.misses, (
        f"{len(served.misses)} requests are not in the recording (the first: "
        f"{served.misses[0]}): the flow changed, record again (scripts/record_model_responses.py)"
    )
    return recording, served, results


async def test_every_recorded_shape_is_replayed(replayed):
    recording, served, _ = replayed
    assert {shape(e) for _, e in served.served} == set(replay.shapes(recording))
    assert len(served.served) >= len(recording["exchanges"])


async def test_whatever_the_model_did_every_agent_ends_cleanly(replayed):
    _, _, results = replayed
    assert results
    assert {r.status for _, r in results} <= KEPT, [
        (o, r.agent, r.status, r.error) for o, r in results if r.status not in KEPT
    ]
    # One model's bad answers never shut the others out (the circuit is for outages).
    assert not any("circuit" in (r.error or "") for _, r in results)


async def test_a_degraded_answer_answers_the_order_that_was_asked(replayed):
    recording, _, results = replayed
    offline = await _offline_answers(recording["recorded"]["orders"])
    degraded = [(o, r) for o, r in results if r.status == Status.DEGRADED]
    for order_id, result in degraded:
        assert result.text == offline[order_id][result.agent], (order_id, result)


async def test_every_billed_token_is_counted(replayed):
    _, served, results = replayed
    billed: dict[tuple, int] = defaultdict(int)
    for (tools, question, _), exchange in served.served:
        usage = exchange["response"].get("usage") or {}
        billed[tools, question] += usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    counted: dict[tuple, int] = defaultdict(int)
    for order_id, result in results:
        counted[TOOLS[result.agent], prompt_for(order_id)] += result.tokens
    # What the degraded answers cost (the offline model's estimate) comes on top.
    for run, tokens in billed.items():
        assert counted[run] >= tokens, run


async def test_an_answer_cut_off_is_never_taken_as_whole(replayed):
    _, served, results = replayed
    cut = {
        (e["response"]["choices"][0]["message"].get("content") or "").strip()
        for _, e in served.served
        if shape(e) == "cut-off"
    }
    kept = {r.text for _, r in results if r.status in (Status.OK, Status.UNVERIFIED)}
    assert not (cut - {""}) & kept


async def test_html_escaped_text_reaches_tools_and_readers_as_it_came(replayed):
    _, served, results = replayed
    sent = set()
    for _, exchange in served.served:
        message = (exchange["response"].get("choices") or [{}])[0].get("message") or {}
        for call in message.get("tool_calls") or ():
            raw = call["function"]["arguments"]
            if replay.ESCAPED.search(raw or ""):
                try:
                    sent.add(json.dumps(json.loads(raw), sort_keys=True))
                except json.JSONDecodeError:
                    pass  # never reached a tool: refused as malformed
    given = {args for _, r in results for args in r.tool_args}
    assert sent <= given  # as the model sent them, not unescaped
    # A kept answer is the model's text as it came (escaped quotes and all).
    answers = {
        ((e["response"].get("choices") or [{}])[0].get("message") or {}).get("content") or ""
        for _, e in served.served
    }
    for _, result in results:
        if result.status in (Status.OK, Status.UNVERIFIED):
            assert result.text in {a.strip() for a in answers}, result
