"""The trace exporters' settings (``MONOCLE_EXPORTERS``, ``OTEL_EXPORTER_OTLP_*``), read from
the environment mapping ``Settings.from_env`` is given, checked at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .values import ConfigError, http_url, shown
from .variables import EXPORTERS, variable

__all__ = ["exporters"]


def exporters(env: Mapping[str, str]) -> dict[str, Any]:
    """Trace exporters (``MONOCLE_EXPORTERS``, or Monocle's own ``MONOCLE_EXPORTER``; without
    either, Okahu when ``OKAHU_API_KEY`` is set) and the OTLP upload bound
    (``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT``), read only when
    OTLP is chosen: a shared environment may carry them for other programs."""
    okahu_key = bool(env.get("OKAHU_API_KEY", "").strip())
    name = "MONOCLE_EXPORTERS" if env.get("MONOCLE_EXPORTERS", "").strip() else "MONOCLE_EXPORTER"
    chosen = [e.strip().lower() for e in env.get(name, "").split(",") if e.strip()]
    for exporter in chosen:
        if exporter not in EXPORTERS:
            raise ConfigError(
                f"{name}: {shown(exporter)} is not an exporter here; "
                f"choose from {', '.join(EXPORTERS)}"
            )
    if "okahu" in chosen and not okahu_key:
        raise ConfigError(f"{name} names okahu but OKAHU_API_KEY is not set")
    timeout = variable("OTEL_EXPORTER_OTLP_TIMEOUT")
    if "otlp" in chosen:
        _check_otlp(env)
        traces_only = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
        if env.get(traces_only, "").strip():
            timeout = replace(timeout, name=traces_only)
        try:
            otlp_timeout_s = timeout.read(env)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc} (seconds, as OpenTelemetry's Python exporter reads it, not milliseconds)"
            ) from None
    return {
        "okahu_enabled": "okahu" in chosen if chosen else okahu_key,
        "otlp_enabled": "otlp" in chosen,
        "otlp_export_timeout_s": otlp_timeout_s if "otlp" in chosen else timeout.default,
    }


def _check_otlp(env: Mapping[str, str]) -> None:
    """The OTLP variables OpenTelemetry's exporter would fail on: at start-up (a traceback
    there; an endpoint without a scheme only at each upload, in a log nobody sees)."""
    compressions = variable("OTEL_EXPORTER_OTLP_COMPRESSION").choices
    for kind in ("TRACES_", ""):
        name = f"OTEL_EXPORTER_OTLP_{kind}COMPRESSION"
        raw = env.get(name)
        if raw is not None and raw.strip().lower() not in compressions:
            allowed = f"{', '.join(compressions[:-1])} or {compressions[-1]}"
            raise ConfigError(f"{name} must be {allowed}, got {shown(raw)}")
        name = f"OTEL_EXPORTER_OTLP_{kind}ENDPOINT"
        raw = env.get(name)
        if raw is not None:
            if not http_url(raw):
                raise ConfigError(
                    f"{name} must be an http:// or https:// URL (OTLP over HTTP), got {shown(raw)}"
                )
