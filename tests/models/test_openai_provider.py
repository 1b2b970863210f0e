"""The same five agents through LiteLLM's real OpenAI provider, against a server on 127.0.0.1."""

from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models.lite_llm import LiteLlm
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types
from helpers import ARTICLE_ANSWERS, load_trace

from order_tracking.agents.build import build_order_agents
from order_tracking.async_runner import track_order
from order_tracking.composition import production_models
from order_tracking.core.results import RunLimits
from order_tracking.core.settings import Settings


async def test_all_agents_answer_through_the_openai_provider(openai_stub, tracing):
    before = len(openai_stub.requests)

    def models(name):
        return LiteLlm(
            model="openai/loopback-model",
            api_base=openai_stub.base_url,
            api_key="sk-test",
            timeout=10,
        )

    report = await track_order("ORD-1001", build_order_agents(models), tracing, limits=RunLimits())
    assert {r.agent: r.text for r in report.results} == ARTICLE_ANSWERS

    sent = openai_stub.requests[before:]
    assert len(sent) == 10  # five agents, two model calls each, all over HTTP
    assert {r["body"]["model"] for r in sent} == {"loopback-model"}
    assert all(r["headers"]["authorization"] == "Bearer sk-test" for r in sent)
    assert all(r["body"]["tools"] for r in sent)

    inference = [
        s
        for s in load_trace(report.trace_file)
        if s["attributes"].get("span.type", "").startswith("inference")
    ]
    assert len(inference) == 10
    assert {s["attributes"]["entity.2.name"] for s in inference} == {"loopback-model"}
    assert all(
        s["attributes"]["entity.1.inference_endpoint"].startswith("http://127.0.0.1:")
        for s in inference
    )


async def test_model_choice_from_the_environment_reaches_the_provider(stub):
    # SHIPPING_MODEL for all, one per-agent override: no code change, only settings.
    settings = Settings.from_env(
        {"SHIPPING_MODEL": "openai/model-a", "SHIPPING_AGENT_MODEL": "openai/model-b"}
    )
    report = await track_order(
        "ORD-1002",
        build_order_agents(
            production_models(settings), names=["order_status_agent", "shipping_agent"]
        ),
        limits=RunLimits(),
    )
    assert report.all_ok
    models_used = [r["body"]["model"] for r in stub.requests]
    assert sorted(set(models_used)) == ["model-a", "model-b"]
    assert models_used.count("model-b") == 2


async def test_streamed_openai_calls_are_traced_as_inference(openai_stub, tracing):
    # adk web streams; Monocle alone records no inference span for a streamed openai/... call.
    model = LiteLlm(
        model="openai/stream-model", api_base=openai_stub.base_url, api_key="sk-test", timeout=10
    )
    (agent,) = build_order_agents(lambda name: model, names=["shipping_agent"])
    service = InMemorySessionService()
    runner = Runner(agent=agent, app_name="t", session_service=service)
    session = await service.create_session(app_name="t", user_id="u")
    message = types.Content(role="user", parts=[types.Part(text="Where is ORD-1001?")])
    texts = []
    with tracing.trace("streaming-test") as trace_id:
        async for event in runner.run_async(
            user_id="u",
            session_id=session.id,
            new_message=message,
            run_config=RunConfig(streaming_mode=StreamingMode.SSE),
        ):
            if event.is_final_response() and event.content and event.content.parts:
                texts.append(event.content.parts[0].text)
    await runner.close()
    assert texts[-1] == ARTICLE_ANSWERS["shipping_agent"]
    tracing.flush()
    spans = load_trace(tracing.file_for(trace_id))
    inference = [s for s in spans if s["attributes"].get("span.type", "").startswith("inference")]
    assert len(inference) == 2
    assert {s["attributes"]["entity.2.name"] for s in inference} == {"stream-model"}
    for span in inference:
        metadata = next(e for e in span["events"] if e["name"] == "metadata")
        assert metadata["attributes"]["total_tokens"] == 110  # the stub's usage, from the stream
