"""`/metrics`: exact counts after a known workload, scraped from the service (in process,
over its ASGI interface), and the worker's own metrics endpoint over real HTTP."""

from __future__ import annotations

import asyncio
import math
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from order_tracking.composition import build, production_models
from order_tracking.core.results import AgentResult, OrderReport, Status
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.http.asgi import serve_until
from order_tracking.http.service import create_app, metrics_app
from order_tracking.ops.metrics import Metrics, order_status
from order_tracking.ops.watch import Watch

AGENTS = (
    "order_status_agent",
    "shipping_agent",
    "inventory_agent",
    "payment_agent",
    "support_agent",
)
KEY = "metrics-key-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels (Prometheus's own parser)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, metric: str, /, **labels: str) -> float:
    return found.get((metric, tuple(sorted(labels.items()))), 0.0)


async def scrape(app, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://test"
    ) as client:
        return await client.get("/metrics", headers=headers)


@pytest.fixture
def faulty_payment(tracing, stub):
    """Every agent offline but the payment agent, whose provider answers HTTP 500 every
    time; no retries, and a circuit that opens after 2 failures and stays open."""
    settings = Settings(
        default_model=OFFLINE_MODEL,
        model_overrides={"payment_agent": "openai/broken"},
        model_retries=0,
        circuit_threshold=2,
        circuit_cooldown_s=3600,
    )
    watch = Watch.for_settings(settings)
    return build(settings, models=production_models(settings, watch), watch=watch)


async def test_scraped_counts_after_two_orders_with_a_failing_provider(faulty_payment):
    app = create_app(faulty_payment)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://test"
    ) as client:
        for order_id in ("ORD-1001", "ORD-1002"):
            assert (await client.post(f"/orders/{order_id}/track")).status_code == 200
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    found = samples(response.text)
    # Five agent runs per order: four answered, the payment agent degraded (both orders).
    for agent in AGENTS:
        status = "degraded" if agent == "payment_agent" else "ok"
        assert value(found, "order_tracking_agent_runs_total", agent=agent, status=status) == 2
        assert value(found, "order_tracking_agent_run_duration_seconds_count", agent=agent) == 2
        assert value(found, "order_tracking_answer_checks_total", agent=agent, verdict="verified")
    assert value(found, "order_tracking_orders_total", status="partial") == 2
    assert value(found, "order_tracking_orders_total", status="ok") == 0  # known from the start
    assert value(found, "order_tracking_order_duration_seconds_count") == 2
    assert value(found, "order_tracking_orders_in_flight") == 0
    # The payment agent's first order: two model calls, each failing once (no retries); the
    # second failure opens the circuit, so the second order never reaches the provider.
    broken = {"model": "openai/broken"}
    assert value(found, "order_tracking_model_calls_total", **broken) == 2
    assert value(found, "order_tracking_model_failures_total", **broken) == 2
    assert value(found, "order_tracking_model_retries_total", **broken) == 0
    # The four offline agents: two calls each per order, answered.
    offline = {"model": OFFLINE_MODEL}
    assert value(found, "order_tracking_model_calls_total", **offline) == 16
    assert value(found, "order_tracking_model_failures_total", **offline) == 0
    assert value(found, "order_tracking_model_tokens_total", kind="prompt", **offline) > 0
    circuit = {"kind": "model", "name": "openai/broken"}
    assert value(found, "order_tracking_circuit_state", state="open", **circuit) == 1
    assert value(found, "order_tracking_circuit_state", state="closed", **circuit) == 0
    assert value(found, "order_tracking_circuit_state", kind="model", name=OFFLINE_MODEL,
                 state="closed") == 1  # fmt: skip
    assert value(found, "order_tracking_orders_refused_total", reason="capacity") == 0
    assert ("process_resident_memory_bytes", ()) in found  # the process's own, as expected
    # Never an order id in a label.
    assert "ORD-" not in response.text


async def test_retries_tokens_and_cost_are_counted_by_model(tracing, stub):
    """A provider that fails twice then answers (MODEL_RETRIES=2), and a model LiteLLM has a
    price for: the cost in the metrics is what the agents' results say they spent."""
    settings = Settings(
        default_model=OFFLINE_MODEL,
        model_overrides={"shipping_agent": "openai/flaky-500-2", "payment_agent": "openai/gpt-4o-mini"},
        model_retries=2,
    )  # fmt: skip
    watch = Watch.for_settings(settings)
    tracker = build(settings, models=production_models(settings, watch), watch=watch)
    report = await tracker.track_order("ORD-1001")
    found = samples(watch.metrics.exposition().decode())
    flaky = {"model": "openai/flaky-500-2"}
    assert value(found, "order_tracking_model_calls_total", **flaky) == 4  # 2 failed, 2 answered
    assert value(found, "order_tracking_model_retries_total", **flaky) == 2
    assert value(found, "order_tracking_model_failures_total", **flaky) == 2
    payment = next(r for r in report.results if r.agent == "payment_agent")
    assert payment.cost_usd > 0
    cost = value(found, "order_tracking_model_cost_usd_total", model="openai/gpt-4o-mini")
    assert math.isclose(cost, payment.cost_usd)
    tokens = sum(
        value(found, "order_tracking_model_tokens_total", model="openai/gpt-4o-mini", kind=kind)
        for kind in ("prompt", "completion")
    )
    assert tokens == payment.tokens
    assert math.isclose(value(found, "order_tracking_spend_last_hour_usd"), payment.cost_usd)


async def test_refusals_for_capacity_are_counted(tracing):
    tracker = build(Settings(default_model=OFFLINE_MODEL))
    app = create_app(tracker, max_orders=0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://test"
    ) as client:
        assert (await client.post("/orders/ORD-1001/track")).status_code == 503
        found = samples((await client.get("/metrics")).text)
    assert value(found, "order_tracking_orders_refused_total", reason="capacity") == 1
    assert value(found, "order_tracking_orders_total", status="ok") == 0


async def test_with_api_keys_metrics_want_one(tracing):
    tracker = build(Settings(default_model=OFFLINE_MODEL))
    app = create_app(tracker, api_keys=[KEY])
    assert (await scrape(app)).status_code == 401
    assert (await scrape(app, {"Authorization": f"Bearer {KEY}"})).status_code == 200


def test_order_status_is_a_bounded_label():
    def report(*statuses: Status) -> OrderReport:
        results = tuple(AgentResult(f"a{i}", s, "", None, 0.1) for i, s in enumerate(statuses))
        return OrderReport("ORD-1", results, 0.1)

    assert order_status(report(Status.OK, Status.OK)) == "ok"
    assert order_status(report(Status.OK, Status.DEGRADED)) == "partial"
    assert order_status(report(Status.TIMEOUT, Status.BUDGET)) == "failed"
    assert order_status(report(Status.OK, Status.CANCELLED)) == "cancelled"


async def test_a_workers_metrics_port_serves_them_over_http():
    """What `track-order worker --metrics-port` serves: /metrics (with a key when keys are
    set) and /health, in the worker's own event loop, stopped with it."""
    metrics = Metrics()
    metrics.agent_finished(AgentResult("payment_agent", Status.TIMEOUT, "", "slow", 60.0))
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_until(sock, metrics_app(Watch(metrics), [KEY]), stop, verbose=False)
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = None
            for _ in range(1500):  # until uvicorn has started
                try:
                    health = await client.get("/health")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert health is not None, "the metrics server never started"
            assert health.json() == {"status": "ok"}
            assert (await client.get("/metrics")).status_code == 401
            response = await client.get("/metrics", headers={"X-API-Key": KEY})
            assert (await client.get("/orders/ORD-1/track")).status_code == 404  # nothing else
    finally:
        stop.set()
        await server
    found = samples(response.text)
    assert value(found, "order_tracking_agent_runs_total", agent="payment_agent",
                 status="timeout") == 1  # fmt: skip


async def test_backend_circuits_share_the_one_circuit_family(tracing, reference_api):
    """Models' and backends' circuits in one family (a metric name may appear once in an
    exposition, or Prometheus refuses the scrape)."""
    from order_tracking.backends import parse_backend

    backend = parse_backend({"ORDER_BACKEND": reference_api}, timeout_s=5, retries=0)
    settings = Settings(default_model=OFFLINE_MODEL, backend=backend)
    tracker = build(settings)
    try:
        report = await tracker.track_order("ORD-1001")
    finally:
        await tracker.aclose()
    assert report.all_ok
    text = tracker.watch.metrics.exposition().decode()
    assert text.count("# TYPE order_tracking_circuit_state gauge") == 1
    found = samples(text)  # Prometheus's own parser: a duplicate family would fail here too
    for system in ("oms", "carrier", "warehouse", "payments"):
        labels = {"kind": "backend", "name": system, "state": "closed"}
        assert value(found, "order_tracking_circuit_state", **labels) == 1
    model = {"kind": "model", "name": OFFLINE_MODEL, "state": "closed"}
    assert value(found, "order_tracking_circuit_state", **model) == 1


def test_a_worker_refuses_a_metrics_port_beyond_loopback_without_keys(capsys):
    from helpers import run_cli

    code, out, err = run_cli(capsys, "worker", "--metrics-port", "0", "--metrics-host", "0.0.0.0")
    assert (code, out) == (2, "")
    assert err == (
        "track-order: error: refusing to serve on 0.0.0.0:0 without authentication: set "
        "SERVICE_API_KEYS (or pass --insecure to serve anyway)\n"
    )
