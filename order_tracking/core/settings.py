"""Settings, read once from the environment at start-up (never at import)."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .backend_settings import BackendConfig, BackendConfigError, parse_backend
from .exporter_settings import exporters
from .order_ids import InvalidPattern, OrderIdPattern
from .values import DAY_S, ConfigError, broker_url, http_url, shown
from .variables import CheckPolicy, default_of, read_fields, variable

__all__ = [
    "DAY_S",
    "LIBRARY_ENVIRONMENT",
    "OFFLINE_MODEL",
    "CheckPolicy",
    "ConfigError",
    "Settings",
    "load_env_files",
    "model_env_var",
    "set_library_environment",
]

OFFLINE_MODEL = "offline/rule-based"
DEFAULT_OPENAI_MODEL = "gpt-4o"

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # order_tracking/.env, as in the article

# Switches the libraries read from the environment. LiteLLM reads its first two at import:
# without them it fetches a price map over the network and loads `.env` from whatever the cwd
# is; the handler switch it reads per call.
# ADK reads its own per call: its spans go nowhere (tracing keeps only Monocle's), so it need
# not serialise every prompt and answer into them. Applied when the package is imported (see
# ``__init__``): the one moment sure to come before any `import litellm` of ours.
LIBRARY_ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_MODE": "PRODUCTION",
    "ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS": "false",
    # OpenAI-compatible calls through LiteLLM's own HTTP handler rather than the openai SDK
    # (a third of an agent run's instructions, see BENCHMARKS.md #26); "false" restores the SDK.
    "EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER": "true",
}


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
    if (
        env.get("ADK_DISABLE_LOAD_DOTENV", "").strip().lower()
        in variable("ADK_DISABLE_LOAD_DOTENV").choices
    ):
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
    """Everything the app reads from the environment, in one place. The defaults, ranges and
    meanings are ``variables.VARIABLES``'s."""

    default_model: str
    model_overrides: Mapping[str, str] = field(default_factory=dict)
    # True when no model was configured and no OpenAI key exists: the offline fallback.
    offline_fallback: bool = False
    offline_latency_s: float = default_of("OFFLINE_MODEL_LATENCY_S")
    model_timeout_s: float = default_of("MODEL_TIMEOUT_S")
    okahu_enabled: bool = False
    trace_dir: Path = default_of("MONOCLE_TRACE_OUTPUT_PATH")
    # Resilience (see models/resilience/ and the docs' "Failure behaviour").
    agent_timeout_s: float = default_of("AGENT_TIMEOUT_S")
    fallback_models: tuple[str, ...] = ()
    model_retries: int = default_of("MODEL_RETRIES")
    circuit_threshold: int = default_of("CIRCUIT_FAILURE_THRESHOLD")
    circuit_cooldown_s: float = default_of("CIRCUIT_COOLDOWN_S")
    max_model_calls_per_agent: int = default_of("MAX_MODEL_CALLS_PER_AGENT")
    max_tokens_per_run: int = default_of("MAX_TOKENS_PER_RUN")
    max_cost_usd_per_run: float = default_of("MAX_COST_USD_PER_RUN")
    max_input_chars: int = default_of("MAX_INPUT_CHARS")
    okahu_export_timeout_s: float = default_of("OKAHU_EXPORT_TIMEOUT_S")
    # Where traces go besides the local files (MONOCLE_EXPORTERS: okahu, otlp), how long an
    # OTLP upload may take, the process's rolling hourly spend limits, the log format.
    otlp_enabled: bool = False
    otlp_export_timeout_s: float = default_of("OTEL_EXPORTER_OTLP_TIMEOUT")
    max_cost_usd_per_hour: float = default_of("MAX_COST_USD_PER_HOUR")
    max_tokens_per_hour: int = default_of("MAX_TOKENS_PER_HOUR")
    log_format: str = default_of("LOG_FORMAT")
    # What an order costs (docs/cost.md): daily limits, where the limits are kept, LiteLLM's
    # response cache, the share of orders traced.
    max_cost_usd_per_day: float = default_of("MAX_COST_USD_PER_DAY")
    max_tokens_per_day: int = default_of("MAX_TOKENS_PER_DAY")
    spend_limit_store: str = default_of("SPEND_LIMIT_STORE")
    model_cache: str = default_of("MODEL_CACHE")
    model_cache_ttl_s: float = default_of("MODEL_CACHE_TTL_S")
    model_cache_max_items: int = default_of("MODEL_CACHE_MAX_ITEMS")
    trace_sample_ratio: float = default_of("TRACE_SAMPLE_RATIO")
    # Keys a client of `track-order serve` must send (Authorization: Bearer KEY or X-API-Key).
    service_api_keys: tuple[str, ...] = default_of("SERVICE_API_KEYS")
    # Where order data comes from (ORDER_BACKEND, see backends/) and what an order id is.
    backend: BackendConfig = field(default_factory=BackendConfig)
    order_ids: OrderIdPattern = field(default_factory=OrderIdPattern)
    # What happens to an answer stating what no tool returned (see answers/policy.py).
    answer_check: CheckPolicy = CheckPolicy(default_of("ANSWER_CHECK"))
    # The tools from an MCP server instead of in process (TOOLS_MCP_URL, see mcp/client.py).
    tools_mcp: str | None = None
    tools_mcp_api_key: str | None = default_of("TOOLS_MCP_API_KEY")
    tools_mcp_timeout_s: float = default_of("TOOLS_MCP_TIMEOUT_S")
    # Temporal (track-order worker / submit / result).
    temporal_address: str = default_of("TEMPORAL_ADDRESS")
    temporal_namespace: str = default_of("TEMPORAL_NAMESPACE")
    temporal_task_queue: str = default_of("TEMPORAL_TASK_QUEUE")
    # The broker of `track-order consume` / `publish` (BROKER_URL; --broker wins).
    broker_url: str | None = None

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
                timeout_s=variable("BACKEND_TIMEOUT_S").read(env),
                retries=variable("BACKEND_RETRIES").read(env),
            )
        except BackendConfigError as exc:
            raise ConfigError(str(exc)) from None
        pattern = env.get("ORDER_ID_PATTERN", "").strip()
        try:
            order_ids = OrderIdPattern(pattern) if pattern else OrderIdPattern()
        except InvalidPattern as exc:
            raise ConfigError(f"ORDER_ID_PATTERN {exc}: {shown(pattern)}") from None
        tools_mcp = _tools_mcp(env.get("TOOLS_MCP_URL", "").strip()) or None
        return cls(
            default_model=default_model,
            model_overrides=overrides,
            offline_fallback=fallback,
            fallback_models=fallbacks,
            backend=backend,
            order_ids=order_ids,
            tools_mcp=tools_mcp,
            broker_url=broker_url(env["BROKER_URL"]) if env.get("BROKER_URL", "").strip() else None,
            **read_fields(env),  # every variable of the table with a field and a kind
            **exporters(env),
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
