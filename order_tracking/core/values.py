"""Reading one setting's value: numbers in bounds, API keys, values quoted safely in errors.
Pure functions of a mapping; ``settings.py`` hands them the environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BROKER_SCHEMES",
    "DAY_S",
    "MIN_API_KEY_CHARS",
    "ConfigError",
    "api_keys",
    "broker_url",
    "number",
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


def api_keys(raw: str) -> tuple[str, ...]:
    """Comma-separated keys; a short one is refused (a guessable key is no key)."""
    keys = tuple(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
    for number, key in enumerate(keys, start=1):
        if len(key) < MIN_API_KEY_CHARS or any(c.isspace() or not c.isprintable() for c in key):
            raise ConfigError(
                f"SERVICE_API_KEYS: key {number} must be at least {MIN_API_KEY_CHARS} "
                "printable characters without spaces"
            )
    return keys


# The brokers `track-order consume` / `publish` speak (FastStream's NATS, Redis, Kafka).
BROKER_SCHEMES = ("nats", "tls", "redis", "rediss", "kafka")


def broker_url(raw: str, name: str = "BROKER_URL") -> str:
    """A broker's URL (``nats://host:4222``, ``redis://host:6379/0``, ``kafka://host:9092``),
    checked: a known scheme, a host, a port that is a number (a typo fails at start-up, not at
    the first reconnect). Returned as given, stripped."""
    from urllib.parse import urlsplit

    raw = raw.strip()
    try:
        url = urlsplit(raw)
        ok = url.scheme.lower() in BROKER_SCHEMES and bool(url.hostname) and url.port != 0
    except ValueError:  # a port that is not a number, a bracket left open
        ok = False
    if not ok or any(c.isspace() or not c.isprintable() for c in raw):
        schemes = ", ".join(f"{s}://" for s in BROKER_SCHEMES)
        raise ConfigError(
            f"{name} must be a broker URL ({schemes}HOST[:PORT]), got {shown(_no_password(raw))}"
        )
    return raw


def _no_password(url: str) -> str:
    """``url`` as quoted in an error: whatever comes before its last ``@`` (a user and a
    password, even one a URL cannot hold unescaped) and secret query values hidden."""
    from .redaction import REDACTED, redact

    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    if "@" in rest:
        rest = f"{REDACTED}@{rest.rpartition('@')[2]}"
    return redact(f"{scheme}{sep}{rest}")
