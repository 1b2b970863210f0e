"""``ORDER_BACKEND`` and the settings of the remote APIs, parsed (from a mapping handed in by
``settings.py``: nothing here reads the environment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .values import ConfigError, sent_key
from .variables import default_of

__all__ = ["SYSTEMS", "BackendConfig", "BackendConfigError", "parse_backend", "system_url_var"]

# The four systems, by the names errors, settings, URLs and breakers use.
SYSTEMS: dict[str, str] = {
    "oms": "order management",
    "carrier": "carrier",
    "warehouse": "warehouse",
    "payments": "payment gateway",
}

SQLITE_PREFIX = "sqlite:///"


class BackendConfigError(ValueError):
    """A backend setting is unusable; the message names it."""


def system_url_var(system: str) -> str:
    """The per-system URL override, e.g. ``carrier`` -> ``CARRIER_API_URL``."""
    return f"{system.upper()}_API_URL"


@dataclass(frozen=True)
class BackendConfig:
    """Where the four systems' data comes from.

    ``kind`` is ``mock`` (the article's data), ``sqlite`` (``path``) or ``http`` (``urls``:
    one base URL per system, the same one for all four unless overridden)."""

    kind: str = "mock"
    path: Path | None = None
    urls: Mapping[str, str] = field(default_factory=dict)
    api_key: str = ""
    timeout_s: float = default_of("BACKEND_TIMEOUT_S")
    retries: int = default_of("BACKEND_RETRIES")

    def describe(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        if self.kind == "http":
            return ", ".join(dict.fromkeys(self.urls.values()))
        return "mock"


def _check_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendConfigError(f"{name} must be an http:// or https:// URL, got {raw!r:.60}")
    if parts.username is not None or parts.password is not None:
        # A password in a URL ends up in logs and process lists; BACKEND_API_KEY is redacted.
        raise BackendConfigError(f"{name} must not hold credentials; set BACKEND_API_KEY")
    if parts.query or parts.fragment:
        raise BackendConfigError(f"{name} must be a base URL without ?query or #fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise BackendConfigError(f"{name} has an invalid port: {raw!r:.60}") from None
    return raw.rstrip("/")


def parse_backend(env: Mapping[str, str], *, timeout_s: float, retries: int) -> BackendConfig:
    """``ORDER_BACKEND`` = ``mock`` (default) | ``sqlite:///PATH`` | ``http(s)://HOST:PORT``,
    with ``<SYSTEM>_API_URL`` overriding one system's URL."""
    raw = env.get("ORDER_BACKEND", "").strip()
    overrides = {
        system: env[system_url_var(system)].strip()
        for system in SYSTEMS
        if env.get(system_url_var(system), "").strip()
    }
    try:
        api_key = sent_key(env.get("BACKEND_API_KEY", ""), "BACKEND_API_KEY")
    except ConfigError as exc:
        raise BackendConfigError(str(exc)) from None
    if raw.startswith(("http://", "https://")) or (not raw and overrides):
        base = _check_url("ORDER_BACKEND", raw) if raw else ""
        urls = {
            s: _check_url(system_url_var(s), overrides.get(s, "")) if s in overrides else base
            for s in SYSTEMS
        }
        missing = [system_url_var(s) for s, url in urls.items() if not url]
        if missing:
            raise BackendConfigError(
                f"set ORDER_BACKEND=http://HOST:PORT or {', '.join(missing)} for the other systems"
            )
        return BackendConfig(
            "http", urls=urls, api_key=api_key, timeout_s=timeout_s, retries=retries
        )
    if overrides:
        raise BackendConfigError(
            f"{system_url_var(next(iter(overrides)))} needs ORDER_BACKEND=http://… "
            f"(it is {raw!r:.60})"
        )
    # The key is kept for every kind: `backends serve` over mock or SQLite wants it too.
    if raw in ("", "mock"):
        return BackendConfig("mock", api_key=api_key)
    if raw.startswith(SQLITE_PREFIX) and raw != SQLITE_PREFIX:
        return BackendConfig("sqlite", path=Path(raw[len(SQLITE_PREFIX) :]), api_key=api_key)
    raise BackendConfigError(
        f"ORDER_BACKEND must be mock, sqlite:///PATH or http://HOST:PORT, got {raw!r:.60}"
    )
