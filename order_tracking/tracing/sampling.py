"""Which orders are traced (``TRACE_SAMPLE_RATIO``), and how an order left out skips every
span: see ``setup``'s docstring."""

from __future__ import annotations

import contextvars
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from monocle_apptrace.instrumentation.common.span_handler import SpanHandler
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

__all__ = ["UNSAMPLED_NOTE", "not_sampled", "sampled_only"]

# Set while an order that was not sampled runs: every Monocle wrapper skips its span.
_unsampled: contextvars.ContextVar[bool] = contextvars.ContextVar("unsampled", default=False)
UNSAMPLED_NOTE = "not sampled (TRACE_SAMPLE_RATIO)"


def not_sampled(
    parent: SpanContext, ratio: float, rng: random.Random
) -> AbstractContextManager[None] | None:
    """None when an order (or a part of its trace, under ``parent``) is traced; else the
    context to run it in. Parent-based: a part follows its order's root (the flags in the
    context it inherits); a root draws a trace id and keeps it with probability ``ratio``
    (OpenTelemetry's own ratio rule on that id)."""
    if parent.is_valid:
        return None if parent.trace_flags.sampled else _left_out(parent.trace_id, rng)
    trace_id = rng.getrandbits(128) or 1
    if trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < TraceIdRatioBased.get_bound_for_rate(ratio):
        return None
    return _left_out(trace_id, rng)


@contextmanager
def _left_out(trace_id: int, rng: random.Random) -> Iterator[None]:
    """The context of an order left out: a span that records nothing is OpenTelemetry's
    current one (its flags say "not sampled", and Temporal's headers carry them to the
    workers), and Monocle's wrappers skip theirs."""
    span = NonRecordingSpan(
        SpanContext(trace_id, rng.getrandbits(64) or 1, False, TraceFlags(TraceFlags.DEFAULT))
    )
    current = otel_context.attach(set_span_in_context(span))
    skipping = _unsampled.set(True)
    try:
        yield
    finally:
        _unsampled.reset(skipping)
        otel_context.detach(current)


def sampled_only(handler: SpanHandler) -> SpanHandler:
    """``handler``, with every span (and its set-up) skipped in an order not sampled."""

    class SampledOnly(type(handler)):  # type: ignore[misc]
        def pre_tracing(self, *args: Any) -> Any:
            return (None, None) if _unsampled.get() else super().pre_tracing(*args)

        def skip_span(self, *args: Any) -> bool:
            return _unsampled.get() or super().skip_span(*args)

    return SampledOnly()
