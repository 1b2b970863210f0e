"""The streaming way in: order questions read from a broker topic, answered by the five agents,
reports published to a results topic (``track-order consume``), and questions put on a topic
(``track-order publish``). On NATS JetStream, Redis streams or Kafka, through FastStream (the
``stream`` extra); the message shapes are in ``event.schema.json``.

Delivery is at least once: a message is acknowledged only after its report is published, an
event whose report was published is not answered again (its id is remembered in the broker),
a message that is not an event is dead-lettered with the reason, and a consumer that dies
loses nothing (what it held is redelivered). See docs/streaming.md.
"""

from ._brokers import Delivery, Subscription, Transport, check_topic
from ._consumer import Answer, ConsumeOptions
from ._event import SCHEMA_PATH, Event, Rejected, check_event, new_event
from ._metrics import StreamMetrics
from ._run import (
    ConnectionLines,
    ConsumeSummary,
    answering,
    consume,
    publish_events,
    transport_for,
)

__all__ = [
    "SCHEMA_PATH",
    "Answer",
    "ConnectionLines",
    "ConsumeOptions",
    "ConsumeSummary",
    "Delivery",
    "Event",
    "Rejected",
    "StreamMetrics",
    "Subscription",
    "Transport",
    "answering",
    "check_event",
    "check_topic",
    "consume",
    "new_event",
    "publish_events",
    "transport_for",
]
