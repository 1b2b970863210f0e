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
    "accepted_key",
    "api_keys",
    "broker_url",
    "http_url",
    "model_cache",
    "number",
    "redis_url",
    "sent_key",
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
    """Whether ``raw`` is a URL of one of ``schemes`` (lower case) with a host and a usable
    port."""
    from urllib.parse import urlsplit

    try:
        url = urlsplit(raw)
        return url.scheme.lower() in schemes and bool(url.hostname) and url.port != 0
    except ValueError:  # a port that is not a number, a bracket left open
        return False


# The brokers `track-order consume` / `publish` speak (FastStream's NATS, Redis, Kafka).
BROKER_SCHEMES = ("nats", "tls", "redis", "rediss", "kafka")


def broker_url(raw: str, name: str = "BROKER_URL") -> str:
    """A broker's URL (``nats://host:4222``, ``redis://host:6379/0``, ``kafka://host:9092``),
    checked: a known scheme, a host, a port that is a number (a typo fails at start-up, not at
    the first reconnect). Returned as given, stripped."""
    raw = raw.strip()
    if not http_url(raw, BROKER_SCHEMES) or not _printable(raw):
        schemes = ", ".join(f"{s}://" for s in BROKER_SCHEMES)
        raise ConfigError(
            f"{name} must be a broker URL ({schemes}HOST[:PORT]), got {shown(_no_password(raw))}"
        )
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


def _no_password(url: str) -> str:
    """``url`` as quoted in an error: whatever comes before its last ``@`` (a user and a
    password, even one a URL cannot hold unescaped) and secret query values hidden."""
    from .redaction import REDACTED, redact

    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    if "@" in rest:
        rest = f"{REDACTED}@{rest.rpartition('@')[2]}"
    return redact(f"{scheme}{sep}{rest}")
