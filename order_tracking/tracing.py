"""Monocle set-up: one trace file per order under ``.monocle/``, and Okahu when a key is set.

Only the instrumentation we use is installed (ADK, LiteLLM, the offline model): Monocle's
default set imports and wraps every library it knows, which costs seconds at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monocle_apptrace import setup_monocle_telemetry
from monocle_apptrace.exporters.okahu.okahu_exporter import OkahuSpanExporter
from monocle_apptrace.instrumentation.common.instrumentor import (
    get_tracer_provider,
    start_trace,
    stop_trace,
)
from monocle_apptrace.instrumentation.common.utils import get_current_monocle_span
from monocle_apptrace.instrumentation.common.wrapper import atask_wrapper
from monocle_apptrace.instrumentation.metamodel.adk.methods import ADK_METHODS
from monocle_apptrace.instrumentation.metamodel.litellm.entities.inference import INFERENCE
from monocle_apptrace.instrumentation.metamodel.litellm.methods import LITELLM_METHODS

from .config import Settings

WORKFLOW_NAME = "order_tracking_asyncio"

# Monocle's LiteLLM inference entity, with a provider entity that names the offline model
# (Monocle cannot infer one from a custom provider's class).
OFFLINE_INFERENCE: dict[str, Any] = {
    **INFERENCE,
    "is_auto_close": lambda kwargs: True,
    "attributes": [
        [
            {"attribute": "type", "accessor": lambda arguments: "inference.offline"},
            {"attribute": "provider_name", "accessor": lambda arguments: "offline"},
            {
                "attribute": "inference_endpoint",
                "accessor": lambda arguments: "offline://" + str(arguments["kwargs"].get("model")),
            },
        ],
        *INFERENCE["attributes"][1:],
    ],
}

# Monocle 0.8.15 lists no streamed OpenAI chat call, so `adk web` (which streams) would record
# no inference span for openai/... models. `async_streaming` returns the stream: the span must
# stay open until the stream is consumed, which Monocle's LiteLLM stream processor handles.
_OPENAI_STREAMING = {
    "package": "litellm.llms.openai.openai",
    "object": "OpenAIChatCompletion",
    "method": "async_streaming",
    "wrapper_method": atask_wrapper,
    "output_processor": {**INFERENCE, "is_auto_close": lambda kwargs: False},
}

_OFFLINE_METHODS = [
    {
        "package": "order_tracking.offline_model",
        "object": "OfflineModel",
        "method": "respond",
        "wrapper_method": atask_wrapper,
        "output_processor": OFFLINE_INFERENCE,
    }
]


@dataclass(frozen=True)
class Tracing:
    """Handle on the configured tracer: start a trace per order, flush, find its file."""

    trace_dir: Path

    @contextmanager
    def trace(self, name: str, attributes: dict[str, Any] | None = None) -> Iterator[str]:
        """A workflow span around a block; yields the trace id (hex).

        start/stop rather than ``amonocle_trace``: the latter masks errors raised inside it.
        """
        token = start_trace(span_name=name, attributes=attributes)
        trace_id = format(get_current_monocle_span().get_span_context().trace_id, "032x")
        try:
            yield trace_id
        finally:
            stop_trace(token)

    def flush(self, timeout_s: float = 10.0) -> None:
        get_tracer_provider().force_flush(int(timeout_s * 1000))

    def file_for(self, trace_id: str) -> Path | None:
        """The trace's JSON file, once flushed (the exporter names files by trace id)."""
        matches = sorted(self.trace_dir.glob(f"*_{trace_id}_*.json"))
        return matches[-1] if matches else None


def setup_tracing(settings: Settings) -> Tracing:
    """Install Monocle before the first agent runs. Idempotent."""
    # Monocle's file exporter takes its folder only from this variable.
    os.environ["MONOCLE_TRACE_OUTPUT_PATH"] = str(settings.trace_dir)
    # Without a key the okahu exporter would dump every span on stdout instead.
    exporters = "file,okahu" if settings.okahu_enabled else "file"
    instrumentor = setup_monocle_telemetry(
        workflow_name=WORKFLOW_NAME,
        monocle_exporters_list=exporters,
        wrapper_methods=[*ADK_METHODS, *LITELLM_METHODS, _OPENAI_STREAMING, *_OFFLINE_METHODS],
        union_with_default_methods=False,
    )
    # Under `adk web`, ADK installed its tracer provider first and Monocle joins it; that
    # provider has no service name, so the file exporter would name files "unknown_service".
    for exporter in instrumentor.exporters or ():
        if hasattr(exporter, "set_service_name"):
            exporter.set_service_name(WORKFLOW_NAME)
        if isinstance(exporter, OkahuSpanExporter):
            # Monocle waits 15 s per upload; a slow Okahu must not hold the exit that long.
            # The file exporter runs first and independently, so the local file is never lost.
            exporter.timeout = settings.okahu_export_timeout_s
    return Tracing(trace_dir=settings.trace_dir)
