"""Settings, read once from the environment at start-up (never at import)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OFFLINE_MODEL = "offline/rule-based"
DEFAULT_OPENAI_MODEL = "gpt-4o"
DEFAULT_MODEL_TIMEOUT_S = 20.0
DEFAULT_TRACE_DIR = Path(".monocle")

_PACKAGE_DIR = Path(__file__).resolve().parent


def load_env_files(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> list[Path]:
    """Load ``order_tracking/.env``, then ``.env`` in the current directory.

    Variables already in the environment always win, then the package's file, then the
    current directory's: the same order ``adk web`` gives (it loads the file nearest the
    agent first). ``ADK_DISABLE_LOAD_DOTENV=1`` turns loading off for both paths.
    Returns the files that were read.
    """
    env = os.environ if env is None else env
    if env.get("ADK_DISABLE_LOAD_DOTENV", "").strip().lower() in {"1", "true", "yes"}:
        return []
    from dotenv import load_dotenv

    loaded: list[Path] = []
    for candidate in (_PACKAGE_DIR / ".env", (cwd or Path.cwd()) / ".env"):
        if candidate.is_file() and candidate.resolve() not in {p.resolve() for p in loaded}:
            load_dotenv(candidate, override=False)
            loaded.append(candidate)
    return loaded


def model_env_var(agent_name: str) -> str:
    """The per-agent override variable, e.g. ``payment_agent`` -> ``PAYMENT_AGENT_MODEL``."""
    return f"{agent_name.upper()}_MODEL"


def _normalise_model(name: str) -> str:
    name = name.strip()
    # "offline" alone is the friendly spelling of the built-in model.
    return OFFLINE_MODEL if name.lower() == "offline" else name


def _number(env: Mapping[str, str], name: str, default: float, kind: type, what: str) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, "a number")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, "a whole number")


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value == 0:
        raise ConfigError(f"{name} must be greater than 0")
    return value


class ConfigError(ValueError):
    """A setting in the environment is unusable; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from the environment, in one place."""

    default_model: str
    model_overrides: Mapping[str, str] = field(default_factory=dict)
    # True when no model was configured and no OpenAI key exists: the offline fallback.
    offline_fallback: bool = False
    offline_latency_s: float = 0.0
    model_timeout_s: float = DEFAULT_MODEL_TIMEOUT_S
    okahu_enabled: bool = False
    trace_dir: Path = DEFAULT_TRACE_DIR
    # Resilience (see resilience.py and the README's "Failure behaviour").
    agent_timeout_s: float = 60.0
    fallback_models: tuple[str, ...] = ()
    model_retries: int = 2
    circuit_threshold: int = 5
    circuit_cooldown_s: float = 30.0
    max_model_calls_per_agent: int = 10
    max_tokens_per_run: int = 100_000
    max_cost_usd_per_run: float = 1.0
    max_input_chars: int = 2_000
    okahu_export_timeout_s: float = 3.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, agent_names: Iterable[str] | None = None
    ) -> Settings:
        """Read the environment; with ``agent_names``, a per-agent variable naming no
        known agent (a typo) is an error rather than silently ignored."""
        env = os.environ if env is None else env
        configured = env.get("SHIPPING_MODEL", "").strip()
        if configured:
            default_model, fallback = _normalise_model(configured), False
        elif env.get("OPENAI_API_KEY", "").strip():
            default_model, fallback = DEFAULT_OPENAI_MODEL, False
        else:
            default_model, fallback = OFFLINE_MODEL, True
        overrides = {
            key[: -len("_MODEL")].lower(): _normalise_model(value)
            for key, value in env.items()
            if key.endswith("_AGENT_MODEL") and value.strip()
        }
        if agent_names is not None:
            unknown = sorted(set(overrides) - set(agent_names))
            if unknown:
                known = ", ".join(model_env_var(n) for n in agent_names)
                raise ConfigError(
                    f"{model_env_var(unknown[0])} names no agent; per-agent variables are: {known}"
                )
        model_timeout = _positive(env, "MODEL_TIMEOUT_S", DEFAULT_MODEL_TIMEOUT_S)
        fallbacks = tuple(
            _normalise_model(m) for m in env.get("FALLBACK_MODELS", "").split(",") if m.strip()
        )
        return cls(
            agent_timeout_s=_positive(env, "AGENT_TIMEOUT_S", 60.0),
            fallback_models=fallbacks,
            model_retries=_int(env, "MODEL_RETRIES", 2),
            circuit_threshold=max(1, _int(env, "CIRCUIT_FAILURE_THRESHOLD", 5)),
            circuit_cooldown_s=_float(env, "CIRCUIT_COOLDOWN_S", 30.0),
            max_model_calls_per_agent=max(1, _int(env, "MAX_MODEL_CALLS_PER_AGENT", 10)),
            max_tokens_per_run=_int(env, "MAX_TOKENS_PER_RUN", 100_000),
            max_cost_usd_per_run=_float(env, "MAX_COST_USD_PER_RUN", 1.0),
            max_input_chars=max(1, _int(env, "MAX_INPUT_CHARS", 2_000)),
            okahu_export_timeout_s=_positive(env, "OKAHU_EXPORT_TIMEOUT_S", 3.0),
            default_model=default_model,
            model_overrides=overrides,
            offline_fallback=fallback,
            offline_latency_s=_float(env, "OFFLINE_MODEL_LATENCY_S", 0.0),
            model_timeout_s=model_timeout,
            okahu_enabled=bool(env.get("OKAHU_API_KEY", "").strip()),
            trace_dir=Path(env.get("MONOCLE_TRACE_OUTPUT_PATH", "").strip() or DEFAULT_TRACE_DIR),
        )

    def model_for(self, agent_name: str) -> str:
        return self.model_overrides.get(agent_name, self.default_model)

    @property
    def uses_offline_model(self) -> bool:
        return OFFLINE_MODEL in {self.default_model, *self.model_overrides.values()}
