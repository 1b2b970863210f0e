"""Reading one setting's value: numbers in bounds, API keys, values quoted safely in errors.
Pure functions of a mapping; ``settings.py`` hands them the environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DAY_S",
    "MIN_API_KEY_CHARS",
    "ConfigError",
    "accepted_key",
    "api_keys",
    "http_url",
    "number",
    "sent_key",
    "shown",
]


class ConfigError(ValueError):
    """A setting in the environment is unusable; the message says which and why."""


DAY_S = 86_400.0  # the longest any timeout may be


def shown(raw: str) -> str:
    """A value as quoted in an error: escaped (no control character reaches the terminal) and
    cut short (a huge value is not echoed back whole)."""
    shown = repr(raw)
    return shown if len(shown) <= 60 else shown[:56] + "…" + shown[0]


def number(
    env: Mapping[str, str],
    name: str,
    default: Any,
    kind: type,
    *,
    low: float = 0,
    high: float,
    above_low: bool = False,
) -> Any:
    """A numeric setting: a finite ``kind`` in ``[low, high]`` (``(low, high]`` with
    ``above_low``), else a ``ConfigError`` naming it. ``nan`` and ``inf`` are refused: no
    setting means "unbounded" (caps say so with 0)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, got {shown(raw)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {shown(raw)}")
    if above_low and value <= low:
        raise ConfigError(f"{name} must be greater than {low:g}")
    if value < low:
        rule = "must not be negative" if low == 0 else f"must be at least {low:g}"
        raise ConfigError(f"{name} {rule}, got {shown(raw)}")
    if value > high:
        raise ConfigError(f"{name} must be at most {high:g}, got {shown(raw)}")
    return value


MIN_API_KEY_CHARS = 16


def _printable(key: str) -> bool:
    return not any(c.isspace() or not c.isprintable() for c in key)


def accepted_key(key: str, what: str) -> str:
    """A key a server of ours accepts (``SERVICE_API_KEYS``, ``BACKEND_API_KEY`` under
    ``backends serve``): one rule for every one, at least ``MIN_API_KEY_CHARS`` printable
    characters without spaces (a guessable key is no key). ``what`` names it in the error."""
    if len(key) < MIN_API_KEY_CHARS or not _printable(key):
        raise ConfigError(
            f"{what} must be at least {MIN_API_KEY_CHARS} printable characters without spaces"
        )
    return key


def api_keys(raw: str, name: str = "SERVICE_API_KEYS") -> tuple[str, ...]:
    """Comma-separated keys a server accepts, each by :func:`accepted_key`."""
    keys = tuple(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
    for number, key in enumerate(keys, start=1):
        accepted_key(key, f"{name}: key {number}")
    return keys


def sent_key(raw: str, name: str) -> str:
    """A key we send to someone else's server (``BACKEND_API_KEY``, ``TOOLS_MCP_API_KEY``):
    their server sets its length, but it travels in a header, so it is printable characters
    without spaces (a line break in it would be a header of its own)."""
    key = raw.strip()
    if not _printable(key):
        raise ConfigError(f"{name} must be printable characters without spaces")
    return key


def http_url(raw: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    """Whether ``raw`` is a URL of one of ``schemes`` (as written) with a host and a usable
    port."""
    from urllib.parse import urlsplit

    try:
        url = urlsplit(raw)
        return url.scheme in schemes and bool(url.hostname) and url.port != 0
    except ValueError:  # a port that is not a number
        return False


def _otlp_timeout(env: Mapping[str, str], name: str) -> float:
    """Seconds, as OpenTelemetry's Python exporter reads the variable (the specification says
    milliseconds: 10000 there would be almost three hours here, so it is refused)."""
    try:
        return number(env, name, 3.0, float, high=600, above_low=True)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (seconds, as OpenTelemetry's Python exporter reads it, not milliseconds)"
        ) from None


def _otlp_checked(env: Mapping[str, str]) -> None:
    """The OTLP variables OpenTelemetry's exporter would fail on: at start-up (a traceback
    there; an endpoint without a scheme only at each upload, in a log nobody sees)."""
    for kind in ("TRACES_", ""):
        name = f"OTEL_EXPORTER_OTLP_{kind}COMPRESSION"
        raw = env.get(name)
        if raw is not None and raw.strip().lower() not in ("gzip", "deflate", "none"):
            raise ConfigError(f"{name} must be gzip, deflate or none, got {shown(raw)}")
        name = f"OTEL_EXPORTER_OTLP_{kind}ENDPOINT"
        raw = env.get(name)
        if raw is not None:
            if not http_url(raw):
                raise ConfigError(
                    f"{name} must be an http:// or https:// URL (OTLP over HTTP), got {shown(raw)}"
                )


# Where traces may go besides the local files, which are always written (they are what
# `track-order trace` reads and what every run prints).
EXPORTERS = ("file", "okahu", "otlp")
LOG_FORMATS = ("text", "json")


def operations(env: Mapping[str, str]) -> dict[str, Any]:
    """The operator's settings: trace exporters (``MONOCLE_EXPORTERS``, or Monocle's own
    ``MONOCLE_EXPORTER``; without either, Okahu when ``OKAHU_API_KEY`` is set), the OTLP
    upload bound (``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT``,
    seconds as OpenTelemetry's Python exporter reads them; 3 s unless set), the hourly
    spend limits and ``LOG_FORMAT``."""
    okahu_key = bool(env.get("OKAHU_API_KEY", "").strip())
    name = "MONOCLE_EXPORTERS" if env.get("MONOCLE_EXPORTERS", "").strip() else "MONOCLE_EXPORTER"
    raw = env.get(name, "").strip()
    chosen = [e.strip().lower() for e in raw.split(",") if e.strip()]
    for exporter in chosen:
        if exporter not in EXPORTERS:
            raise ConfigError(
                f"{name}: {shown(exporter)} is not an exporter here; "
                f"choose from {', '.join(EXPORTERS)}"
            )
    if "okahu" in chosen and not okahu_key:
        raise ConfigError(f"{name} names okahu but OKAHU_API_KEY is not set")
    timeout_name = next(
        (
            n
            for n in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
            if env.get(n, "").strip()
        ),
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    )
    if "otlp" in chosen:  # read only then, like the timeout
        _otlp_checked(env)
    log_format = env.get("LOG_FORMAT", "").strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {shown(log_format)}"
        )
    return {
        "okahu_enabled": "okahu" in chosen if chosen else okahu_key,
        "otlp_enabled": "otlp" in chosen,
        # Read only when OTLP is on: a shared environment may carry it for other programs.
        "otlp_export_timeout_s": _otlp_timeout(env, timeout_name) if "otlp" in chosen else 3.0,
        "max_cost_usd_per_hour": number(env, "MAX_COST_USD_PER_HOUR", 0.0, float, high=1e12),
        "max_tokens_per_hour": number(env, "MAX_TOKENS_PER_HOUR", 0, int, high=10**15),
        "log_format": log_format,
    }
