"""The Monocle trace of one run: one file, one trace, the article's tree, valid JSON."""

from collections import defaultdict

from helpers import ProviderDown, load_trace, offline_models

from order_tracking.agents.build import build_order_agents
from order_tracking.agents.specialists import SPECIALIST_NAMES
from order_tracking.async_runner import track_order
from order_tracking.core.results import RunLimits

EXPECTED_TOOLS = {
    "order_status_agent": ["get_order_status"],
    "shipping_agent": ["get_shipping_details"],
    "inventory_agent": ["check_inventory"],
    "payment_agent": ["get_payment_status"],
    "support_agent": ["get_order_status", "get_payment_status", "get_shipping_details"],
}


def tree(spans):
    children = defaultdict(list)
    for span in spans:
        children[span["parent_id"]].append(span)
    return children


def kind(span):
    return span["attributes"].get("span.type")


def outline(spans):
    """Every span as ``kind name id <- parent``, for a failure message."""
    return "\n".join(
        f"{kind(s)} {s['attributes'].get('entity.1.name') or s['name']} "
        f"{s['context']['span_id']} <- {s['parent_id']}"
        for s in spans
    )


def agents_under(root, children):
    """Agent spans below the workflow span, keyed by agent name (via Runner 'turn' spans)."""
    found = {}
    for turn in children[root["context"]["span_id"]]:
        assert kind(turn) == "agentic.turn"
        for agent in children[turn["context"]["span_id"]]:
            assert kind(agent) == "agentic.invocation"
            found[agent["attributes"]["entity.1.name"]] = agent
    return found


async def test_one_run_is_one_trace_with_the_article_tree(models, tracing, trace_dir):
    report = await track_order("ORD-1001", build_order_agents(models), tracing, limits=RunLimits())
    assert report.trace_file is not None and report.trace_file.parent == trace_dir
    spans = load_trace(report.trace_file)  # valid JSON after the flush

    assert len({s["context"]["trace_id"] for s in spans}) == 1
    (root,) = [s for s in spans if s["parent_id"] is None]
    assert kind(root) == "workflow"
    assert root["attributes"]["workflow.name"] == "order_tracking_asyncio"

    children = tree(spans)
    agents = agents_under(root, children)
    assert sorted(agents) == sorted(SPECIALIST_NAMES)
    for name, agent in agents.items():
        below = children[agent["context"]["span_id"]]
        tools = sorted(
            s["attributes"]["entity.1.name"] for s in below if kind(s) == "agentic.tool.invocation"
        )
        inferences = [s for s in below if kind(s).startswith("inference")]
        # On a mismatch, the whole tree: where the missing spans went is the clue.
        assert tools == EXPECTED_TOOLS[name], outline(spans)
        # One call decides the tool calls, one phrases the answer: both are inference spans.
        assert len(inferences) == 2, outline(spans)
        for span in inferences:
            assert span["attributes"]["entity.1.type"] == "inference.offline"
            assert span["attributes"]["entity.2.name"] == "rule-based"
            metadata = next(e for e in span["events"] if e["name"] == "metadata")
            assert metadata["attributes"]["total_tokens"] > 0


async def test_each_run_gets_its_own_trace_file(models, tracing):
    agents = build_order_agents(models)
    first = await track_order("ORD-1002", agents, tracing, limits=RunLimits())
    second = await track_order("ORD-1003", agents, tracing, limits=RunLimits())
    assert first.trace_file != second.trace_file
    assert all(load_trace(r.trace_file) for r in (first, second))


async def test_a_failing_agent_is_recorded_and_the_trace_still_closes(tracing):
    models = offline_models()
    agents = build_order_agents(
        lambda n: ProviderDown(model="down") if n == "shipping_agent" else models(n)
    )
    report = await track_order("ORD-1001", agents, tracing, limits=RunLimits())
    assert not report.all_ok
    spans = load_trace(report.trace_file)
    shipping = [s for s in spans if s["attributes"].get("entity.1.name") == "shipping_agent"]
    assert shipping and shipping[0]["status"]["status_code"] == "ERROR"
