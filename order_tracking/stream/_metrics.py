"""The consumer's instruments, on the process's registry (the same ``/metrics`` as the orders'
and agent runs', ``ops.metrics``): events consumed, answered, dead-lettered, redelivered,
already answered; in flight; the group's lag where the broker reports it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["DEAD_LETTER_KINDS", "StreamMetrics"]

PREFIX = "order_tracking_stream"
# Bounded labels: why a message went to the dead-letter topic, by kind (the reason itself,
# which quotes the message, is in the dead letter and the log, never a label).
DEAD_LETTER_KINDS = ("malformed", "poison")


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()

        def counter(name: str, text: str, *labels: str) -> Counter:
            return Counter(f"{PREFIX}_{name}", text, labels, registry=r)

        self.consumed = counter("events_consumed", "Messages handed to this consumer.")
        self.answered = counter("events_answered", "Events answered: result published, acked.")
        self.dead_lettered = counter(
            "events_dead_lettered",
            "Messages sent to the dead-letter topic: malformed (not an event we answer) or "
            "poison (delivered too many times without an answer).",
            "kind",
        )
        self.redelivered = counter(
            "events_redelivered", "Messages this consumer got that had been delivered before."
        )
        self.duplicates = counter(
            "events_already_answered",
            "Redelivered events whose result was already published: acknowledged, not "
            "answered again.",
        )
        self.abandoned = counter(
            "events_abandoned",
            "Events given back unanswered for redelivery (a failure, the spend limit, shutdown).",
        )
        self.in_flight = Gauge(
            f"{PREFIX}_events_in_flight", "Events being answered now.", registry=r
        )
        self.lag = Gauge(
            f"{PREFIX}_consumer_lag",
            "Events in the topic not yet handed to the group (-1: the broker does not say).",
            registry=r,
        )
        self.paused = Gauge(
            f"{PREFIX}_paused",
            "1 while no event is started: a spend limit is reached.",
            registry=r,
        )
        for kind in DEAD_LETTER_KINDS:
            self.dead_lettered.labels(kind)
        self.lag.set(-1)
