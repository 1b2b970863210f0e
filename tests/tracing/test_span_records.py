"""A trace file's span records, built in one pass (``redacted_record``), are exactly what
Monocle's serializer gives for the redacted span once Monocle is set up (its ``to_json`` cuts
the ``0x`` off ids): the format readers (``track-order trace``, Okahu, other tools) know, with
every string redacted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from monocle_apptrace.exporters.base_exporter import serialize_span
from monocle_apptrace.instrumentation.common.utils import setup_readablespan_patch
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags

from order_tracking.core.redaction import register_secret_values
from order_tracking.tracing.export import redacted, redacted_record

SECRET = "sk-test-0123456789abcdef"
register_secret_values([SECRET])
setup_readablespan_patch()  # what Monocle's set-up does to every span's JSON

# Monocle's to_json also cuts "0x" off values that start with it; ours keeps them as recorded.
text = st.one_of(
    st.text(max_size=40).filter(lambda t: not t.startswith("0x")),
    st.just(f"key {SECRET} here"),
    st.just("Bearer abcdefghijk"),
)
value = st.one_of(
    text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(text, max_size=3).map(tuple),
    st.lists(st.integers(min_value=0, max_value=9), max_size=3).map(tuple),
)
attributes = st.dictionaries(st.text(min_size=1, max_size=12), value, max_size=5)


@given(
    attrs=attributes,
    events=st.lists(st.tuples(st.text(max_size=10), attributes), max_size=3),
    description=st.one_of(st.none(), text),
    parent=st.booleans(),
    linked=st.booleans(),
)
def test_a_record_is_the_serialized_redacted_span(attrs, events, description, parent, linked):
    context = SpanContext(0xABC, 0xDEF, False, TraceFlags(1))
    span = ReadableSpan(
        name="span",
        context=context,
        parent=SpanContext(0xABC, 0x123, True, TraceFlags(1)) if parent else None,
        resource=Resource({"service.name": "t"}),
        attributes=attrs,
        events=[
            Event(name, a, 1_700_000_000_000_000_000 + i) for i, (name, a) in enumerate(events)
        ],
        links=[Link(SpanContext(0x1, 0x2, True, TraceFlags(1)), {"k": "v"})] if linked else [],
        status=Status(StatusCode.ERROR, description) if description else Status(StatusCode.OK),
        start_time=1_700_000_000_000_000_000,
        end_time=1_700_000_000_100_000_000,
    )
    record = redacted_record(span)
    assert record == serialize_span(redacted(span))
    assert SECRET not in repr(record)
