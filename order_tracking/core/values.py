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
    "model_cache",
    "number",
    "redis_url",
    "shown",
    "spend_limit_store",
    "url_passwords",
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
        raise ConfigError(f"{name} must be a broker URL ({schemes}HOST[:PORT]), got {shown(raw)}")
    return raw


def redis_url(name: str, raw: str) -> str:
    """``redis://[:PASSWORD@]HOST[:PORT][/DB]`` (``rediss://`` for TLS), as redis-py reads it;
    anything else is a ``ConfigError`` naming the variable (the value is not echoed: it may
    hold a password)."""
    from urllib.parse import urlsplit

    try:
        url = urlsplit(raw)
        ok = url.scheme in ("redis", "rediss") and bool(url.hostname) and url.port != 0
        ok = ok and (url.path.strip("/") == "" or url.path.strip("/").isdigit())
        ok = ok and not (url.query or url.fragment)
    except ValueError:  # a port that is not a number
        ok = False
    if not ok:
        raise ConfigError(f"{name} must look like redis://HOST:PORT/DB")
    return raw


def url_passwords(*urls: str) -> list[str]:
    """The passwords in URLs (``redis://:PASSWORD@HOST``): to be redacted wherever they go."""
    from urllib.parse import urlsplit

    return [p for url in urls if "://" in url and (p := urlsplit(url).password)]


def model_cache(raw: str) -> str:
    """``MODEL_CACHE``: where model answers are cached (``off``, ``memory``, ``disk:PATH``,
    ``redis://HOST:PORT/DB``; see docs/cost.md), checked."""
    if raw.lower() in ("off", "memory"):
        return raw.lower()
    if raw.lower().startswith("disk:"):
        if not raw[5:].strip():
            raise ConfigError("MODEL_CACHE=disk:PATH needs a folder, e.g. disk:.model-cache")
        return "disk:" + raw[5:].strip()
    if raw.lower().startswith(("redis://", "rediss://")):
        return redis_url("MODEL_CACHE", raw)
    raise ConfigError(
        f"MODEL_CACHE must be off, memory, disk:PATH or redis://HOST:PORT/DB, got {shown(raw)}"
    )


def spend_limit_store(raw: str) -> str:
    """``SPEND_LIMIT_STORE``: where the spend limits are kept (``memory``: this process,
    ``sqlite:///PATH``: this machine, ``redis://HOST:PORT/DB``: every machine), checked."""
    if raw.lower() == "memory":
        return "memory"
    if raw.lower().startswith("sqlite:///"):
        if not raw[len("sqlite:///") :].strip():
            raise ConfigError("SPEND_LIMIT_STORE=sqlite:///PATH needs a file")
        return raw
    if raw.lower().startswith(("redis://", "rediss://")):
        return redis_url("SPEND_LIMIT_STORE", raw)
    raise ConfigError(
        "SPEND_LIMIT_STORE must be memory, sqlite:///PATH or redis://HOST:PORT/DB, "
        f"got {shown(raw)}"
    )
