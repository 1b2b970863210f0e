"""Prometheus metrics for an operator: what orders and agent runs did and how long they
took, what the models cost and how they failed, the circuits, the refusals, the spend.

One :class:`Metrics` per ``App``, on a registry of its own (the service's ``/metrics``, a
worker's ``--metrics-port``). Labels are bounded sets: agent names, statuses, the configured
model and backend names; never an order id. Each model call is counted by
``models.meter.ModelMeter``, an attempt guard.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from ..core.results import AgentResult, OrderReport, Status

if TYPE_CHECKING:
    from .spend import SpendStore

__all__ = ["CONTENT_TYPE", "Circuits", "Metrics", "order_status"]


class Circuits(Protocol):
    """Circuit breakers by name, as a scrape reads them (``models.resilience.Breakers``)."""

    def states(self) -> Mapping[str, str]: ...


CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "order_tracking"
# Agent runs take from milliseconds (offline) to a minute (the default deadline).
SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
CIRCUIT_STATES = ("closed", "open", "half_open")
ORDER_STATUSES = ("ok", "partial", "failed", "cancelled")
REFUSALS = ("capacity", "budget")


def order_status(report: OrderReport) -> str:
    """An order as a whole: ``cancelled`` (stopped before it finished: a client that left, a
    shutdown, Ctrl-C), ``ok`` (every agent answered), ``partial``, or ``failed``."""
    if any(r.status == Status.CANCELLED for r in report.results):
        return "cancelled"
    answered = sum(r.ok for r in report.results)
    return "ok" if answered == len(report.results) else "partial" if answered else "failed"


class Metrics:
    """The process's instruments, on their own registry (a test or a second ``App`` in the
    process starts from zero)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # No `_created` series beside each counter: noise for a dashboard.
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        self._circuits: _Circuits | None = None
        r = self.registry

        def counter(name: str, text: str, *labels: str) -> Counter:
            return Counter(f"{PREFIX}_{name}", text, labels, registry=r)

        def seconds(name: str, text: str, *labels: str) -> Histogram:
            return Histogram(f"{PREFIX}_{name}", text, labels, buckets=SECONDS, registry=r)

        self.orders = counter("orders", "Orders run, by outcome.", "status")
        self.order_seconds = seconds("order_duration_seconds", "Wall time of an order.")
        self.in_flight = Gauge(f"{PREFIX}_orders_in_flight", "Orders running now.", registry=r)
        self.refused = counter(
            "orders_refused",
            "Orders refused before they started: capacity (too many in flight) or budget "
            "(the hourly spend limit).",
            "reason",
        )
        self.agent_runs = counter(
            "agent_runs", "Agent runs, by agent and status.", "agent", "status"
        )
        self.agent_seconds = seconds(
            "agent_run_duration_seconds", "Time of one agent's run.", "agent"
        )
        self.answer_checks = counter(
            "answer_checks",
            "Answers checked against their tool results: verified or unsupported.",
            "agent",
            "verdict",
        )
        self.model_calls = counter(
            "model_calls", "Calls to a configured model (retries included).", "model"
        )
        self.model_retries = counter(
            "model_retries", "Calls that were retries of a failed one.", "model"
        )
        self.model_failures = counter("model_failures", "Calls that failed.", "model")
        self.model_tokens = counter(
            "model_tokens", "Tokens, by model and kind (prompt, completion).", "model", "kind"
        )
        self.model_cost = counter(
            "model_cost_usd", "Cost in US dollars, by model (LiteLLM's prices).", "model"
        )
        self.cache_lookups = counter(
            "model_cache_lookups",
            "Model calls looked up in LiteLLM's response cache (MODEL_CACHE): hit or miss.",
            "model",
            "result",
        )
        self.cache_saved_tokens = counter(
            "model_cache_saved_tokens", "Tokens not paid for: answers from the cache.", "model"
        )
        self.cache_saved_cost = counter(
            "model_cache_saved_usd", "Dollars not spent: answers from the cache.", "model"
        )
        self.calls_refused = counter(
            "model_calls_refused",
            "Model calls refused before they were made: a spend limit had no room for their "
            "estimate, or the shared spend store could not be reached.",
            "model",
        )
        for status in ORDER_STATUSES:  # known from the start: rate() needs a first sample
            self.orders.labels(status)
        for reason in REFUSALS:
            self.refused.labels(reason)
        # What the process itself uses (CPU, memory, open files), as operators expect.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    # --- orders and agent runs ---

    def order_started(self) -> None:
        self.in_flight.inc()

    def order_finished(self, report: OrderReport | None) -> None:
        self.in_flight.dec()
        if report is not None:
            self.orders.labels(order_status(report)).inc()
            self.order_seconds.observe(report.wall_s)

    def agent_finished(self, result: AgentResult, *, ran: bool = True) -> None:
        self.agent_runs.labels(result.agent, result.status.value).inc()
        # A refused run's 0 s, or a cancelled one's cut-short time, would pull the quantiles.
        if ran and result.status != Status.CANCELLED:
            self.agent_seconds.labels(result.agent).observe(result.elapsed_s)
        if result.verified is not None:
            verdict = "verified" if result.verified else "unsupported"
            self.answer_checks.labels(result.agent, verdict).inc()

    def model_call(
        self, model: str, retried: int, failed: bool, prompt: int, completion: int, cost: float
    ) -> None:
        self.model_calls.labels(model).inc()
        if retried:
            self.model_retries.labels(model).inc(retried)
        if failed:
            self.model_failures.labels(model).inc()
        if prompt:
            self.model_tokens.labels(model, "prompt").inc(prompt)
        if completion:
            self.model_tokens.labels(model, "completion").inc(completion)
        if cost:
            self.model_cost.labels(model).inc(cost)

    def model_cache(
        self, model: str, hits: int, misses: int, saved_tokens: int, saved_cost: float
    ) -> None:
        if hits:
            self.cache_lookups.labels(model, "hit").inc(hits)
            self.cache_saved_tokens.labels(model).inc(saved_tokens)
            self.cache_saved_cost.labels(model).inc(saved_cost)
        if misses:
            self.cache_lookups.labels(model, "miss").inc(misses)

    def refusal(self, reason: str) -> None:
        self.refused.labels(reason).inc()

    # --- state read at scrape time ---

    def watch_circuits(self, kind: str, breakers: Circuits) -> None:
        """Report ``breakers``' states (``kind``: model or backend) on every scrape, in the
        one ``circuit_state`` family (a name may appear once in an exposition)."""
        if self._circuits is None:
            self._circuits = _Circuits()
            self.registry.register(self._circuits)
        self._circuits.watched.append((kind, breakers))

    def watch_spend(self, store: SpendStore) -> None:
        """Report the spend of the last hour and day and their limits on every scrape (a
        shared store: as this process last saw it, at its last model call)."""
        self.registry.register(_Spend(store))

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class _Circuits(Collector):
    def __init__(self) -> None:
        self.watched: list[tuple[str, Circuits]] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_circuit_state",
            "1 for each circuit's current state (an open circuit past its cooldown reads "
            "open until the next call tries it).",
            labels=["kind", "name", "state"],
        )
        for kind, breakers in self.watched:
            for name, state in sorted(breakers.states().items()):
                for candidate in CIRCUIT_STATES:
                    family.add_metric([kind, name, candidate], float(state == candidate))
        yield family


class _Spend(Collector):
    def __init__(self, store: SpendStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        seen, limits = self.store.seen(), self.store.limits
        pairs = (
            ("spend_last_hour_usd", "Cost of the last hour's model calls.", seen.hour_usd),
            ("tokens_last_hour", "Tokens of the last hour's model calls.", seen.hour_tokens),
            ("spend_limit_usd_per_hour", "MAX_COST_USD_PER_HOUR (0: none).", limits.hour_usd),
            ("token_limit_per_hour", "MAX_TOKENS_PER_HOUR (0: none).", limits.hour_tokens),
            ("spend_last_day_usd", "Cost of the last 24 hours' model calls.", seen.day_usd),
            ("tokens_last_day", "Tokens of the last 24 hours' model calls.", seen.day_tokens),
            ("spend_limit_usd_per_day", "MAX_COST_USD_PER_DAY (0: none).", limits.day_usd),
            ("token_limit_per_day", "MAX_TOKENS_PER_DAY (0: none).", limits.day_tokens),
        )
        for name, text, value in pairs:
            yield GaugeMetricFamily(f"{PREFIX}_{name}", text, value=float(value))
