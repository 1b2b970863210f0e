"""Where traces go besides the local files: Okahu and any OTLP/HTTP collector (Jaeger,
Tempo, Honeycomb, Datadog, an OpenTelemetry Collector), chosen by ``MONOCLE_EXPORTERS``.

Each is one of Monocle's own exporters (its ``otlp`` is OpenTelemetry's OTLP/HTTP exporter,
configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables), behind a batch queue of its
own, redacted, and bounded: a collector that is down or slow costs a run nothing (uploads
happen on the queue's thread) and an exit at most its export timeout (:class:`Bounded`).
The local file never waits for any of them: it has its own processor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib import import_module

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from ..core.settings import Settings
from ..core.values import ConfigError
from ..core.workarounds import without_redirects
from .export import MonocleSpansOnly, RedactingExporter

__all__ = ["Bounded", "check_exporters", "remote_processors"]

log = logging.getLogger("order_tracking.tracing")


class Bounded(SpanProcessor):
    """A remote exporter's batch processor whose flush and shutdown give up after
    ``timeout_s``: OpenTelemetry's own wait each exported batch's full timeout in turn (30 s
    and more against a collector that never answers). What is not sent by then is dropped
    for this exporter only; the thread left uploading is a daemon."""

    def __init__(self, name: str, inner: SpanProcessor, timeout_s: float) -> None:
        self.name, self.inner, self.timeout_s = name, inner, timeout_s

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(span)

    def _within(self, what: str, call: Callable[[], object]) -> bool:
        done = threading.Event()

        def run() -> None:
            try:
                call()
            finally:
                done.set()

        threading.Thread(target=run, name=f"{self.name}-{what}", daemon=True).start()
        if not done.wait(self.timeout_s):
            log.warning(
                "%s: %s not finished within %gs; giving up", self.name, what, self.timeout_s
            )
            return False
        return True

    def shutdown(self) -> None:
        self._within("shutdown", self.inner.shutdown)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._within("flush", lambda: self.inner.force_flush(timeout_millis))


def _monocle_exporter(name: str, **options: object) -> SpanExporter:
    """The exporter Monocle's registry has under ``name``, built with ``options`` (Monocle's
    own factory builds them without any, so no timeout of ours)."""
    from monocle_apptrace.exporters.monocle_exporters import monocle_exporters

    entry = monocle_exporters[name]
    exporter_class = getattr(import_module(entry["module"]), entry["class"])
    try:
        return exporter_class(**options)
    except Exception as exc:  # it reads its own variables: one line, not a traceback
        raise ConfigError(f"MONOCLE_EXPORTERS: {name} cannot be set up: {exc}") from None


def check_exporters(settings: Settings) -> None:
    """Build the remote exporters and close them again: a ``ConfigError`` now, in a parent
    process, rather than one per worker process that builds them."""
    for _, exporter, _ in _exporters(settings):
        exporter.shutdown()


def remote_processors(settings: Settings) -> list[SpanProcessor]:
    """One bounded, redacting batch processor per remote exporter the settings name."""
    return [
        MonocleSpansOnly(
            Bounded(name, BatchSpanProcessor(RedactingExporter(exporter)), timeout_s + 1.0)
        )
        for name, exporter, timeout_s in _exporters(settings)
    ]


def _exporters(settings: Settings) -> list[tuple[str, SpanExporter, float]]:
    chosen: list[tuple[str, SpanExporter, float]] = []
    if settings.okahu_enabled:
        # Only with a key: without one Monocle's okahu exporter dumps every span on stdout.
        # Monocle waits 15 s per upload by default; OKAHU_EXPORT_TIMEOUT_S bounds it.
        timeout_s = settings.okahu_export_timeout_s
        chosen.append(("okahu", _monocle_exporter("okahu", timeout=timeout_s), timeout_s))
    if settings.otlp_enabled:
        # Endpoint, headers, certificates, compression: OTEL_EXPORTER_OTLP_* as the exporter
        # reads them. Its default timeout (10 s, retried within it) is bounded too.
        timeout_s = settings.otlp_export_timeout_s
        exporter = _monocle_exporter("otlp", timeout=timeout_s)
        without_redirects(exporter)
        chosen.append(("otlp", exporter, timeout_s))
    return chosen
