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
from dataclasses import dataclass

import pytest
import pytest_asyncio
import replay
import stamina
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


@dataclass(frozen=True)
class Replayed:
    recording: dict
    served: replay.Replay
    results: list  # (order id, AgentResult)
    offline: dict  # order id -> agent -> the answer from the tools alone


@pytest_asyncio.fixture(
    scope="module", loop_scope="module", params=RECORDINGS, ids=lambda path: path.stem
)
async def replayed(request, openai_stub):
    """A recording replayed through the agents, once per module (the checks below read it)."""
    recording = replay.load(request.param)
    recorded = recording["recorded"]
    env = {
        **recorded["settings"],
        "SHIPPING_MODEL": "openai/replay",
        # Answers come at once here: no need for the recording's long timeouts.
        "MODEL_TIMEOUT_S": "30",
        "AGENT_TIMEOUT_S": "120",
    }
    results = []
    with pytest.MonkeyPatch.context() as patch:  # (module-scoped: before _hermetic_env)
        patch.delenv("OPENAI_BASE_URL", raising=False)
        patch.setenv("OPENAI_API_BASE", openai_stub.base_url)
        patch.setenv("OPENAI_API_KEY", "sk-test")
        app = composition.build(Settings.from_env(env, agent_names=AGENT_NAMES), traced=False)
        # Retries as recorded, without the waits between them.
        with (
            openai_stub.replaying(recording) as served,
            stamina.set_testing(True, attempts=100, cap=True),
        ):
            for _ in range(recorded["rounds"]):
                await app.track_orders(
                    recorded["orders"],
                    concurrency=1,
                    on_result=lambda o, r: results.append((o, r)),
                )
    assert not served.misses, (
        f"{len(served.misses)} requests are not in the recording (the first: "
        f"{served.misses[0]}): the flow changed, record again (scripts/record_model_responses.py)"
    )
    return Replayed(recording, served, results, await _offline_answers(recorded["orders"]))


def test_every_recorded_shape_is_replayed(replayed):
    recording, served = replayed.recording, replayed.served
    assert {shape(e) for _, e in served.served} == set(replay.shapes(recording))
    assert len(served.served) >= len(recording["exchanges"])


def test_whatever_the_model_did_every_agent_ends_cleanly(replayed):
    results = replayed.results
    assert results
    assert {r.status for _, r in results} <= KEPT, [
        (o, r.agent, r.status, r.error) for o, r in results if r.status not in KEPT
    ]
    # One model's bad answers never shut the others out (the circuit is for outages).
    assert not any("circuit" in (r.error or "") for _, r in results)


def test_a_degraded_answer_answers_the_order_that_was_asked(replayed):
    offline = replayed.offline
    degraded = [(o, r) for o, r in replayed.results if r.status == Status.DEGRADED]
    assert degraded
    for order_id, result in degraded:
        assert result.text == offline[order_id][result.agent], (order_id, result)
        # Built from the asked order's own lookups, it passes the check (ANSWER_CHECK=flag).
        assert result.verified is True, (order_id, result)


def test_every_billed_token_is_counted(replayed):
    served, results = replayed.served, replayed.results
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


def test_an_answer_cut_off_is_never_taken_as_whole(replayed):
    served, results = replayed.served, replayed.results
    cut = {
        (e["response"]["choices"][0]["message"].get("content") or "").strip()
        for _, e in served.served
        if shape(e) == "cut-off"
    }
    kept = {r.text for _, r in results if r.status in (Status.OK, Status.UNVERIFIED)}
    assert not (cut - {""}) & kept


def test_html_escaped_text_reaches_tools_and_readers_as_it_came(replayed):
    served, results = replayed.served, replayed.results
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
