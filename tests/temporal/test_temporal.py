"""Orders on Temporal: a real dev server on loopback (the installed binary), a worker in a
thread, ``submit`` / ``result`` through the CLI in-process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers import AGENT_FIELDS, ARTICLE_ANSWERS, EXPECTED_BODY, ORDER_FIELDS, REPO_ROOT, run_cli

from order_tracking.core.results import Status
from order_tracking.temporal import TrackOrderWorkflow, sandbox
from order_tracking.tracing.view import load_trace, render_text


def test_submit_prints_the_article_report_and_exits_0(capsys, temporal_env, trace_dir):
    code, out, err = run_cli(capsys, "submit", "ORD-1001")
    assert code == 0, err
    assert out.startswith(EXPECTED_BODY)
    footer = out.splitlines()[-1]
    assert footer.startswith(f"Traces written to: {trace_dir}/monocle_trace_")


def test_an_order_on_temporal_is_one_trace_from_submit_to_every_agent(capsys, temporal_env):
    code, out, _ = run_cli(capsys, "submit", "ORD-1001", "--json")
    assert code == 0
    trace = load_trace(Path(json.loads(out)["trace_file"]))
    order_id = "ORD-1001"
    # One tree: the submit's span is the root, Temporal's spans join it to each agent run.
    assert [(root.kind, root.attributes["order_id"]) for root in trace.roots] == [
        ("workflow", order_id)
    ]
    names = [span.name for _, span in trace.walk()]
    assert names.count("StartWorkflow:TrackOrder") == names.count("RunWorkflow:TrackOrder") == 1
    assert names.count("RunActivity:run_agent") == 5
    agents = {span.entity: span.result for span in trace.agents()}
    assert set(agents) == set(ARTICLE_ANSWERS)
    assert all(result and result["status"] == "ok" for result in agents.values())
    for agent in trace.agents():  # under its run's span, under Temporal's activity span
        run = _parent(trace, agent)
        assert run.name == f"run_agent.{agent.entity}"
        assert _parent(trace, run).name == "RunActivity:run_agent"
    text = render_text(trace)
    assert "temporal: StartWorkflow:TrackOrder" in text
    assert "agent run: run_agent.payment_agent (attempt 1)" in text


def _parent(trace, span):
    """The span above ``span`` in the tree as shown (the runner's turn spans folded)."""
    spans, stack = {}, list(trace.roots)
    while stack:
        node = stack.pop()
        spans[node.span_id] = node
        stack.extend(node.children)
    parent = spans[span.parent_id]
    return _parent(trace, parent) if parent.kind == "agentic.turn" else parent


def test_result_names_the_trace_of_the_submit(capsys, temporal_env, trace_dir):
    code, out, _ = run_cli(capsys, "submit", "ORD-1002", "--key", "traced-1", "--json")
    submitted = json.loads(out)["trace_file"]
    code, out, _ = run_cli(capsys, "result", "track-order/ORD-1002/traced-1", "--json")
    assert code == 0
    assert json.loads(out)["trace_file"] == submitted


def test_submit_json_has_the_track_order_schema(capsys, temporal_env):
    code, out, _ = run_cli(capsys, "submit", "ORD-1002", "ORD-9999", "--json")
    assert code == 0
    orders = {o["order_id"]: o for o in map(json.loads, out.splitlines())}
    assert set(orders) == {"ORD-1002", "ORD-9999"}
    for order in orders.values():
        assert set(order) == ORDER_FIELDS
        for agent in order["agents"]:
            assert set(agent) == set(AGENT_FIELDS)
    assert [a["text"] for a in orders["ORD-9999"]["agents"]] == ["Order ORD-9999 not found."] * 5


def test_a_repeated_submit_with_the_same_key_runs_once(capsys, temporal_env):
    first = run_cli(capsys, "submit", "ORD-1003", "--key", "same-key-1", "--json")
    second = run_cli(capsys, "submit", "ORD-1003", "--key", "same-key-1", "--json")
    assert first[0] == second[0] == 0
    # The same run: every agent's own timing is the first run's, to the microsecond.
    assert json.loads(first[1]) == json.loads(second[1])
    third = run_cli(capsys, "submit", "ORD-1003", "--key", "other-key", "--json")
    assert json.loads(third[1])["agents"] != json.loads(first[1])["agents"]  # a new run


def test_no_wait_prints_workflow_ids_and_result_fetches_the_report(capsys, temporal_env):
    code, out, _ = run_cli(capsys, "submit", "ORD-1001", "--no-wait", "--key", "later-1")
    assert (code, out) == (0, "track-order/ORD-1001/later-1\n")
    code, out, _ = run_cli(capsys, "result", "track-order/ORD-1001/later-1", "--json")
    assert code == 0
    agents = {a["agent"]: a["text"] for a in json.loads(out)["agents"]}
    assert agents == ARTICLE_ANSWERS


def test_an_unknown_workflow_is_one_line_and_exit_2(capsys, temporal_env):
    code, _, err = run_cli(capsys, "result", "track-order/ORD-1/nothing")
    assert code == 2
    assert err == (
        "track-order: error: track-order/ORD-1/nothing: workflow not found for ID: "
        "track-order/ORD-1/nothing\n"
    )


def test_an_unreachable_server_is_one_line_and_exit_2(capsys, monkeypatch):
    from temporal_server import free_port

    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    code, out, err = run_cli(capsys, "submit", "ORD-1001")
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: cannot reach the Temporal server at 127.0.0.1:")
    assert err.count("\n") == 1


@pytest.mark.parametrize("argv", [["ORD-12a"], ["--key", "has space", "ORD-1001"], []])
def test_bad_input_is_refused_before_anything_is_submitted(capsys, monkeypatch, argv):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")  # never reached
    code, out, err = run_cli(capsys, "submit", *argv)
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: ") and "Temporal" not in err


async def test_the_workflow_replays_deterministically_from_a_recorded_history():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.opentelemetry import TracingInterceptor
    from temporalio.worker import Replayer

    history = (REPO_ROOT / "tests" / "fixtures" / "temporal_history_ord_1001.json").read_text()
    assert "_tracer-data" in history  # recorded from a traced submit: there is a trace to join
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    replayer = Replayer(
        workflows=[TrackOrderWorkflow],
        workflow_runner=sandbox(),
        # As our workers trace: a replay (a worker taking over an order) records no span twice.
        interceptors=[TracingInterceptor(provider.get_tracer("replay"))],
    )
    result = await replayer.replay_workflow(
        WorkflowHistory.from_json("track-order/ORD-1001/recorded", history)
    )
    assert result.replay_failure is None
    assert spans.get_finished_spans() == ()


def test_agent_results_cross_as_data():
    from order_tracking.core.results import AgentResult
    from order_tracking.temporal._messages import result_from_data, result_to_data

    result = AgentResult("payment_agent", Status.UNAVAILABLE, "t", "e", 1.5, ("x",), "s", 3, 0.1)
    back = result_from_data(result_to_data(result))
    assert back == AgentResult(
        "payment_agent", Status.UNAVAILABLE, "t", "e", 1.5, ("x",), None, 3, 0.1
    )


async def test_an_agent_that_fails_every_attempt_is_its_error_not_the_orders(
    temporal_address, temporal_queue
):
    from order_tracking.agents.specialists import SPECIALIST_NAMES
    from order_tracking.temporal import OrderRequest, connect, new_key, report, submit

    client = await connect(temporal_address, "default")
    # An agent no worker has: the activity fails at once, without retries (bad input).
    request = OrderRequest("ORD-1001", [*SPECIALIST_NAMES, "ghost_agent"], deadline_s=30)
    handle = await submit(client, request, key=new_key(), task_queue=temporal_queue, priority=3)
    order, _ = await report(handle, "ORD-1001")
    by_agent = {r.agent: r for r in order.results}
    assert {a: by_agent[a].text for a in SPECIALIST_NAMES} == ARTICLE_ANSWERS
    ghost = by_agent["ghost_agent"]
    assert ghost.status == Status.ERROR
    assert ghost.error == (
        "the agent run failed on every attempt (BadRequest: no agent 'ghost_agent' here)"
    )


def test_each_agent_gets_an_equal_share_of_the_orders_budget():
    from order_tracking.temporal import OrderRequest

    request = OrderRequest("ORD-1", ["a", "b", "c", "d"], 30, max_tokens=1000, max_cost_usd=2.0)
    agent = request.for_agent("b")
    assert (agent.agent, agent.max_tokens, agent.max_cost_usd) == ("b", 250, 0.5)
    assert OrderRequest("ORD-1", ["a"], 30).for_agent("a").max_tokens == 0  # no cap stays none


@pytest.mark.parametrize("sampled", [True, False])
def test_a_worker_waits_only_for_traces_that_are_recorded(sampled):
    """The trace an activity belongs to comes from Temporal's header; one the submitter did
    not sample is recorded by no one, so a worker must not wait for its file."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    from temporalio.contrib.opentelemetry import TracingInterceptor

    from order_tracking.temporal._tracing import PartsWritten

    propagation = TracingInterceptor()
    span = SpanContext(0xABC, 0x1, is_remote=False, trace_flags=TraceFlags(int(sampled)))
    carrier: dict[str, str] = {}
    propagation.text_map_propagator.inject(
        carrier, trace.set_span_in_context(NonRecordingSpan(span))
    )
    headers = {propagation.header_key: propagation.payload_converter.to_payloads([carrier])[0]}
    parts = PartsWritten(tracing=None, propagation=propagation)  # type: ignore[arg-type]
    assert parts.trace_id(headers) == (format(0xABC, "032x") if sampled else None)
    assert parts.trace_id({}) is None


def test_a_worker_counts_each_agent_run_in_its_metrics(capsys, temporal_env, temporal_app):
    def runs() -> float:
        registry = temporal_app.watch.metrics.registry
        name = "order_tracking_agent_runs_total"
        return sum(
            registry.get_sample_value(name, {"agent": agent, "status": "ok"}) or 0
            for agent in ARTICLE_ANSWERS
        )

    before = runs()
    code, _, err = run_cli(capsys, "submit", "ORD-1003")
    assert code == 0, err
    assert runs() - before == 5


async def test_a_worker_past_its_hourly_limit_ends_new_agent_runs_as_budget_at_once(
    tracing, capsys
):
    """Refused before the run starts: nothing runs, and the result is ``budget``, which the
    workflow does not retry. The operator is told once when refusals start (in the default
    format too, where a warning per run was never shown) and once when they end; a refused
    run is not a 0 s duration in the quantiles."""
    from temporalio.testing import ActivityEnvironment

    from order_tracking.composition import build
    from order_tracking.core.settings import OFFLINE_MODEL, Settings
    from order_tracking.ops.logs import configure_logging
    from order_tracking.ops.watch import Watch
    from order_tracking.temporal._activities import AgentActivities
    from order_tracking.temporal._messages import AgentRequest

    configure_logging("quiet")  # the worker's default
    now = [0.0]
    # Room for one agent run (its model calls are checked too) once the hour has passed.
    settings = Settings(default_model=OFFLINE_MODEL, max_tokens_per_hour=5000)
    watch = Watch.for_settings(settings, clock=lambda: now[0])
    watch.spend.charge_now(5000, 0)
    app = build(settings, watch=watch)
    activities = AgentActivities(app)
    request = AgentRequest("ORD-1001", "payment_agent", 30)
    for _ in range(3):
        data = await activities.run_agent(request)  # no activity context needed: none runs
        assert (data.status, data.model_calls) == ("budget", 0)
    assert data.error.startswith("hourly token limit of 5000 reached (5000 in the last hour)")
    assert capsys.readouterr().err == (
        "hourly token limit of 5000 reached (5000 in the last hour); new orders are taken again "
        "in 3600s; agent runs end as budget until then\n"
    )
    # Agent runs that ended as budget; the order's refusal is the submitter's to count.
    registry = watch.metrics.registry
    runs = {"agent": "payment_agent", "status": "budget"}
    assert registry.get_sample_value("order_tracking_agent_runs_total", runs) == 3
    refused = {"reason": "budget"}
    assert registry.get_sample_value("order_tracking_orders_refused_total", refused) == 0
    durations = "order_tracking_agent_run_duration_seconds_count"
    seconds = {"agent": "payment_agent"}
    assert registry.get_sample_value(durations, seconds) is None  # never observed

    now[0] += 3600  # the window: a refusal never waits longer
    data = await ActivityEnvironment().run(activities.run_agent, request)
    assert data.status == "ok", data.error
    assert capsys.readouterr().err == "hourly limit: agent runs are taken again\n"
    assert registry.get_sample_value(durations, seconds) == 1


async def test_a_cancelled_agent_run_on_a_worker_is_counted(tracing):
    """Temporal cancels an activity (the workflow is cancelled, a heartbeat times out, the
    worker stops): the run is counted as cancelled, and the cancellation still raised."""
    from temporalio.testing import ActivityEnvironment

    from order_tracking.composition import build, production_models
    from order_tracking.core.settings import OFFLINE_MODEL, Settings
    from order_tracking.ops.watch import Watch
    from order_tracking.temporal._activities import AgentActivities
    from order_tracking.temporal._messages import AgentRequest

    settings = Settings(default_model=OFFLINE_MODEL, offline_latency_s=60.0)
    watch = Watch.for_settings(settings)
    app = build(settings, models=production_models(settings, watch), watch=watch)
    env = ActivityEnvironment()
    running = asyncio.create_task(
        env.run(AgentActivities(app).run_agent, AgentRequest("ORD-1001", "payment_agent", 120))
    )
    await asyncio.sleep(0.2)  # under way, in its first model call
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    registry = watch.metrics.registry
    runs = {"agent": "payment_agent", "status": "cancelled"}
    assert registry.get_sample_value("order_tracking_agent_runs_total", runs) == 1
