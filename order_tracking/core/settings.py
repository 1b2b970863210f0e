"""Settings, read once from the environment at start-up (never at import)."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from .backend_settings import BackendConfig, BackendConfigError, parse_backend
from .order_ids import InvalidPattern, OrderIdPattern
from .values import DAY_S, ConfigError, api_keys, http_url, number, operations, sent_key, shown

OFFLINE_MODEL = "offline/rule-based"
DEFAULT_OPENAI_MODEL = "gpt-4o"
DEFAULT_MODEL_TIMEOUT_S = 20.0
DEFAULT_TRACE_DIR = Path(".monocle")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # order_tracking/.env, as in the article

# Switches the libraries read from the environment. LiteLLM reads its two at import: without
# them it fetches a price map over the network and loads `.env` from whatever the cwd is.
# ADK reads its own per call: its spans go nowhere (tracing keeps only Monocle's), so it need
# not serialise every prompt and answer into them. Applied when the package is imported (see
# ``__init__``): the one moment sure to come before any `import litellm` of ours.
LIBRARY_ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_MODE": "PRODUCTION",
    "ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS": "false",
}


class CheckPolicy(StrEnum):
    """``ANSWER_CHECK``: what happens to an answer that states what no tool returned (see
    ``answers.policy``)."""

    FLAG = "flag"
    REPLACE = "replace"
    OFF = "off"


def set_library_environment() -> None:
    """The switches above, unless the environment already says otherwise."""
    for name, value in LIBRARY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


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


# ``scheme://``: a URL, never a command line (``ftp://x/mcp`` is not a program to run).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _tools_mcp(raw: str) -> str:
    """``TOOLS_MCP_URL``: an ``http(s)://`` URL with a host, or a command line."""
    if not raw:
        return raw
    if _SCHEME.match(raw):
        if not http_url(raw):
            raise ConfigError(
                f"TOOLS_MCP_URL must be an http:// or https:// URL or a command line, "
                f"got {shown(raw)}"
            )
        return raw
    try:
        shlex.split(raw)
    except ValueError as exc:
        raise ConfigError(f"TOOLS_MCP_URL is not a command line ({exc})") from None
    return raw


def model_env_var(agent_name: str) -> str:
    """The per-agent override variable, e.g. ``payment_agent`` -> ``PAYMENT_AGENT_MODEL``."""
    return f"{agent_name.upper()}_MODEL"


def _normalise_model(name: str) -> str:
    name = name.strip()
    # "offline" alone is the friendly spelling of the built-in model.
    return OFFLINE_MODEL if name.lower() == "offline" else name


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
    # Where traces go besides the local files (MONOCLE_EXPORTERS: okahu, otlp), how long an
    # OTLP upload may take, the process's rolling hourly spend limits, the log format.
    otlp_enabled: bool = False
    otlp_export_timeout_s: float = 3.0
    max_cost_usd_per_hour: float = 0.0
    max_tokens_per_hour: int = 0
    log_format: str = "text"
    # Keys a client of `track-order serve` must send (Authorization: Bearer KEY or X-API-Key).
    service_api_keys: tuple[str, ...] = ()
    # Where order data comes from (ORDER_BACKEND, see backends/) and what an order id is.
    backend: BackendConfig = field(default_factory=BackendConfig)
    order_ids: OrderIdPattern = field(default_factory=OrderIdPattern)
    # What happens to an answer stating what no tool returned (see answer_policy.py).
    answer_check: CheckPolicy = CheckPolicy.FLAG
    # The tools from an MCP server instead of in process (TOOLS_MCP_URL, see mcp_tools.py).
    tools_mcp: str | None = None
    tools_mcp_api_key: str | None = None
    tools_mcp_timeout_s: float = 10.0
    # Temporal (track-order worker / submit / result).
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "order-tracking"

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
        fallbacks = tuple(
            _normalise_model(m) for m in env.get("FALLBACK_MODELS", "").split(",") if m.strip()
        )
        try:
            backend = parse_backend(
                env,
                timeout_s=number(env, "BACKEND_TIMEOUT_S", 5.0, float, high=DAY_S, above_low=True),
                retries=number(env, "BACKEND_RETRIES", 2, int, high=100),
            )
        except BackendConfigError as exc:
            raise ConfigError(str(exc)) from None
        pattern = env.get("ORDER_ID_PATTERN", "").strip()
        try:
            order_ids = OrderIdPattern(pattern) if pattern else OrderIdPattern()
        except InvalidPattern as exc:
            raise ConfigError(f"ORDER_ID_PATTERN {exc}: {shown(pattern)}") from None
        tools_mcp = _tools_mcp(env.get("TOOLS_MCP_URL", "").strip()) or None
        raw_check = env.get("ANSWER_CHECK", "").strip().lower() or CheckPolicy.FLAG.value
        if raw_check not in set(CheckPolicy):
            choices = ", ".join(p.value for p in CheckPolicy)
            raise ConfigError(f"ANSWER_CHECK must be one of {choices}, got {shown(raw_check)}")
        return cls(
            tools_mcp=tools_mcp,
            tools_mcp_api_key=sent_key(env.get("TOOLS_MCP_API_KEY", ""), "TOOLS_MCP_API_KEY")
            or None,
            tools_mcp_timeout_s=number(
                env, "TOOLS_MCP_TIMEOUT_S", 10.0, float, high=DAY_S, above_low=True
            ),
            answer_check=CheckPolicy(raw_check),
            temporal_address=env.get("TEMPORAL_ADDRESS", "").strip() or "localhost:7233",
            temporal_namespace=env.get("TEMPORAL_NAMESPACE", "").strip() or "default",
            temporal_task_queue=env.get("TEMPORAL_TASK_QUEUE", "").strip() or "order-tracking",
            backend=backend,
            order_ids=order_ids,
            agent_timeout_s=number(env, "AGENT_TIMEOUT_S", 60.0, float, high=DAY_S, above_low=True),
            fallback_models=fallbacks,
            model_retries=number(env, "MODEL_RETRIES", 2, int, high=100),
            circuit_threshold=number(
                env, "CIRCUIT_FAILURE_THRESHOLD", 5, int, low=1, high=1_000_000
            ),
            circuit_cooldown_s=number(env, "CIRCUIT_COOLDOWN_S", 30.0, float, high=DAY_S),
            max_model_calls_per_agent=number(
                env, "MAX_MODEL_CALLS_PER_AGENT", 10, int, low=1, high=10_000
            ),
            max_tokens_per_run=number(env, "MAX_TOKENS_PER_RUN", 100_000, int, high=10**12),
            max_cost_usd_per_run=number(env, "MAX_COST_USD_PER_RUN", 1.0, float, high=1e9),
            max_input_chars=number(env, "MAX_INPUT_CHARS", 2_000, int, low=1, high=10_000_000),
            okahu_export_timeout_s=number(
                env, "OKAHU_EXPORT_TIMEOUT_S", 3.0, float, high=600, above_low=True
            ),
            default_model=default_model,
            model_overrides=overrides,
            offline_fallback=fallback,
            offline_latency_s=number(env, "OFFLINE_MODEL_LATENCY_S", 0.0, float, high=3600),
            model_timeout_s=number(
                env, "MODEL_TIMEOUT_S", DEFAULT_MODEL_TIMEOUT_S, float, high=DAY_S, above_low=True
            ),
            **operations(env),
            service_api_keys=api_keys(env.get("SERVICE_API_KEYS", "")),
            trace_dir=Path(env.get("MONOCLE_TRACE_OUTPUT_PATH", "").strip() or DEFAULT_TRACE_DIR),
        )

    def with_model(self, name: str) -> Settings:
        """These settings with the model ``name`` for every agent and no fallback models
        (what ``track-order eval --model`` scores)."""
        return replace(
            self,
            default_model=_normalise_model(name),
            model_overrides={},
            fallback_models=(),
            offline_fallback=False,
        )

    def model_for(self, agent_name: str) -> str:
        return self.model_overrides.get(agent_name, self.default_model)

    @property
    def model_note(self) -> str | None:
        """What to tell the user when the offline model is used because nothing else was
        configured (None otherwise)."""
        if not self.offline_fallback:
            return None
        which = (
            "the agents without their own *_AGENT_MODEL use" if self.model_overrides else "using"
        )
        return (
            f"No SHIPPING_MODEL and no OPENAI_API_KEY set: {which} the built-in offline model "
            f"({OFFLINE_MODEL}), a rule-based stand-in, not an LLM."
        )

    @property
    def uses_offline_model(self) -> bool:
        return OFFLINE_MODEL in {self.default_model, *self.model_overrides.values()}
