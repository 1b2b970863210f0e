"""The one table of environment variables: each with its default, its range or choices and
what it means. ``Settings.from_env`` reads the environment through it, and the documentation's
Configuration page is generated from it (``scripts/docs_hooks.py``), so neither can drift.

To add a setting: one :class:`Variable` in :data:`VARIABLES` (in its group), and, when it
becomes a field of ``Settings``, that field with ``default=default_of("NAME")``. A number,
text, a choice or a list of keys needs no other code: ``Settings.from_env`` reads every
variable that names a ``field`` and has a ``kind``. A variable without a ``kind`` is parsed by
code of its own (``settings.py``, ``backend_settings.py``) or read by a library
(``read_by``); the table still documents it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .order_ids import DEFAULT_PATTERN
from .values import DAY_S, model_cache, spend_limit_store
from .variable import CheckPolicy, Variable

__all__ = ["EXPORTERS", "GROUPS", "VARIABLES", "CheckPolicy", "Variable"]
__all__ += ["default_of", "read_fields", "variable"]


# Where traces may go besides the local files, which are always written (they are what
# `track-order trace` reads and what every run prints).
EXPORTERS = ("file", "okahu", "otlp")

# The sections of the Configuration page, in order.
GROUPS = (
    "Models",
    "Deadlines, retries and limits",
    "Traces, metrics and logs",
    "Order data",
    "Serving",
    "Answers",
    "Temporal",
    "Streams",
    "Configuration files",
)

_MODELS, _LIMITS, _TRACES, _DATA, _SERVING, _ANSWERS, _TEMPORAL, _STREAMS, _FILES = GROUPS

# fmt: off
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "SHIPPING_MODEL", _MODELS,
        "The LiteLLM model of every agent: `gpt-4o`, `gemini/gemini-2.0-flash`, "
        "`anthropic/claude-3-5-sonnet-20241022`, `ollama_chat/llama3.1`, … `offline` is the "
        "built-in model.",
        shown_default="`gpt-4o` if `OPENAI_API_KEY` is set, else `offline`",
    ),
    Variable(
        "<AGENT_NAME>_MODEL", _MODELS,
        "One agent's model, e.g. `PAYMENT_AGENT_MODEL`, `SUPPORT_AGENT_MODEL`, "
        "`COORDINATOR_AGENT_MODEL`; one that names no agent is an error.",
        shown_default="`SHIPPING_MODEL`",
    ),
    Variable(
        "FALLBACK_MODELS", _MODELS,
        "Comma-separated models to try, in order, when an agent's own model fails.",
    ),
    Variable(
        "OFFLINE_MODEL_LATENCY_S", _MODELS,
        "Artificial delay per offline-model call, for demos and benchmarks.",
        0.0, "float", "offline_latency_s", high=3600,
    ),
    Variable(
        "OPENAI_API_KEY", _MODELS,
        "OpenAI's key; set alone, it makes `gpt-4o` the default model.",
        read_by="LiteLLM",
    ),
    Variable(
        "GEMINI_API_KEY", _MODELS,
        "The key of `gemini/...` models (or `GOOGLE_API_KEY`); `ANTHROPIC_API_KEY` and the "
        "other providers' likewise.",
        read_by="LiteLLM",
    ),
    Variable(
        "OPENAI_API_BASE", _MODELS,
        "Any OpenAI-compatible server for `openai/...` models (vLLM, LM Studio, a proxy).",
        read_by="LiteLLM",
    ),
    Variable(
        "EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER", _MODELS,
        "`true`: `openai/...` calls go through LiteLLM's own HTTP handler rather than the "
        "openai SDK (a third fewer instructions per agent run); `false` restores the SDK.",
        choices=("true", "false"), shown_default="`true` (set at import)", read_by="LiteLLM",
    ),
    Variable(
        "MODEL_CACHE", _MODELS,
        "LiteLLM's response cache, keyed by the whole request (a changed fact is a miss): "
        "`off`, `memory` (this process), `disk:PATH` (this machine), `redis://HOST:PORT/DB` "
        "(every machine). See [What an order costs](../cost.md).",
        "off", "text", "model_cache", convert=model_cache,
    ),
    Variable(
        "MODEL_CACHE_TTL_S", _MODELS,
        "Seconds a cached answer is served.",
        float(DAY_S), "float", "model_cache_ttl_s", high=30 * DAY_S, above_low=True,
    ),
    Variable(
        "MODEL_CACHE_MAX_ITEMS", _MODELS,
        "Answers `MODEL_CACHE=memory` keeps (the oldest go first).",
        10_000, "int", "model_cache_max_items", low=1, high=10**8,
    ),
    Variable(
        "AGENT_TIMEOUT_S", _LIMITS,
        "Deadline for each agent's whole run (`--timeout` overrides it).",
        60.0, "float", "agent_timeout_s", high=DAY_S, above_low=True,
    ),
    Variable(
        "MODEL_TIMEOUT_S", _LIMITS,
        "Seconds one model call may take, all of it: a provider sending its answer slowly "
        "cannot stretch it (LiteLLM's own default is 6000, per read).",
        20.0, "float", "model_timeout_s", high=DAY_S, above_low=True,
    ),
    Variable(
        "MODEL_RETRIES", _LIMITS,
        "Extra attempts for a transient provider error (429, 5xx, timeout, dropped "
        "connection).",
        2, "int", "model_retries", high=100,
    ),
    Variable(
        "CIRCUIT_FAILURE_THRESHOLD", _LIMITS,
        "Failed calls in a row that open a model's circuit.",
        5, "int", "circuit_threshold", low=1, high=1_000_000,
    ),
    Variable(
        "CIRCUIT_COOLDOWN_S", _LIMITS,
        "How long an open circuit refuses calls before one trial call.",
        30.0, "float", "circuit_cooldown_s", high=DAY_S,
    ),
    Variable(
        "MAX_MODEL_CALLS_PER_AGENT", _LIMITS,
        "Model calls one agent may make in one run.",
        10, "int", "max_model_calls_per_agent", low=1, high=10_000,
    ),
    Variable(
        "MAX_TOKENS_PER_RUN", _LIMITS,
        "Tokens all agents of one order may use together (0: no cap).",
        100_000, "int", "max_tokens_per_run", high=10**12,
    ),
    Variable(
        "MAX_COST_USD_PER_RUN", _LIMITS,
        "Dollars all agents of one order may spend together, by LiteLLM's prices (0: no cap).",
        1.0, "float", "max_cost_usd_per_run", high=1e9,
    ),
    Variable(
        "MAX_COST_USD_PER_HOUR", _LIMITS,
        "Dollars the processes sharing `SPEND_LIMIT_STORE` may spend over any rolling hour, "
        "checked before each model call with an estimate; past it model calls and new orders "
        "are refused (`BUDGET`, 503). 0: no limit.",
        0.0, "float", "max_cost_usd_per_hour", high=1e12,
    ),
    Variable(
        "MAX_TOKENS_PER_HOUR", _LIMITS,
        "The same in tokens. 0: no limit.",
        0, "int", "max_tokens_per_hour", high=10**15,
    ),
    Variable(
        "MAX_COST_USD_PER_DAY", _LIMITS,
        "Dollars over any rolling 24 hours, beside the hourly limit. 0: no limit.",
        0.0, "float", "max_cost_usd_per_day", high=1e12,
    ),
    Variable(
        "MAX_TOKENS_PER_DAY", _LIMITS,
        "The same in tokens. 0: no limit.",
        0, "int", "max_tokens_per_day", high=10**15,
    ),
    Variable(
        "SPEND_LIMIT_STORE", _LIMITS,
        "Where the hourly and daily spend is kept: `memory` (this process), "
        "`sqlite:///PATH` (the processes of one machine), `redis://HOST:PORT/DB` (every "
        "machine). A store that cannot be reached refuses (fails closed).",
        "memory", "text", "spend_limit_store", convert=spend_limit_store,
    ),
    Variable(
        "MAX_INPUT_CHARS", _LIMITS,
        "Longer chat messages are refused before any model call.",
        2_000, "int", "max_input_chars", low=1, high=10_000_000,
    ),
    Variable(
        "MONOCLE_TRACE_OUTPUT_PATH", _TRACES,
        "Folder for trace files (relative to the current directory).",
        Path(".monocle"), "text", "trace_dir", convert=Path,
    ),
    Variable(
        "MONOCLE_EXPORTERS", _TRACES,
        "Where traces go besides the local files, which are always written: `otlp`, "
        "`okahu`, comma-separated (Monocle's spelling `MONOCLE_EXPORTER` works too).",
        choices=EXPORTERS, shown_default="`file` (and `okahu` with a key)",
    ),
    Variable(
        "OKAHU_API_KEY", _TRACES,
        "Also export traces to Okahu. Without it no Okahu exporter is created.",
    ),
    Variable(
        "OKAHU_EXPORT_TIMEOUT_S", _TRACES,
        "Seconds one trace upload to Okahu may take (Monocle's default is 15).",
        3.0, "float", "okahu_export_timeout_s", high=600, above_low=True,
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT", _TRACES,
        "The OTLP/HTTP collector (`/v1/traces` is appended; `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` "
        "is taken whole). Checked at start-up when `otlp` is chosen.",
        shown_default="`http://localhost:4318`", read_by="OpenTelemetry",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_HEADERS", _TRACES,
        "Headers for the collector, e.g. `x-honeycomb-team=KEY`; the values are redacted "
        "like keys (`_TRACES_` variant too).",
        read_by="OpenTelemetry",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_COMPRESSION", _TRACES,
        "Compression of the uploads (`_TRACES_` variant too).",
        choices=("gzip", "deflate", "none"), read_by="OpenTelemetry",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_TIMEOUT", _TRACES,
        "Seconds one upload may take (and the exit waits for it), as OpenTelemetry's Python "
        "exporter reads it, not milliseconds (`_TRACES_` variant too).",
        3.0, "float", high=600, above_low=True, read_by="OpenTelemetry",
    ),
    Variable(
        "TRACE_SAMPLE_RATIO", _TRACES,
        "The share of orders traced (parent-based: an order's spans are all kept or all "
        "dropped); an unsampled order writes no trace file and says so.",
        1.0, "float", "trace_sample_ratio", high=1.0,
    ),
    Variable(
        "LOG_FORMAT", _TRACES,
        "`json`: one JSON object per stderr line with order, agent and trace id.",
        "text", "choice", "log_format", choices=("text", "json"),
    ),
    Variable(
        "ORDER_BACKEND", _DATA,
        "Where order data comes from: `mock` (the article's data), `sqlite:///PATH` (the "
        "embedded database; `sqlite:////abs/path` for an absolute path), `http://HOST:PORT` "
        "(remote APIs).",
        shown_default="`mock`",
    ),
    Variable(
        "OMS_API_URL", _DATA,
        "One system's base URL, when the four are not behind one; likewise "
        "`CARRIER_API_URL`, `WAREHOUSE_API_URL`, `PAYMENTS_API_URL`.",
        shown_default="`ORDER_BACKEND`",
    ),
    Variable(
        "BACKEND_API_KEY", _DATA,
        "Sent as `Authorization: Bearer …` to the remote APIs (redacted everywhere); "
        "`backends serve` wants it when set.",
    ),
    Variable(
        "BACKEND_TIMEOUT_S", _DATA,
        "Seconds one attempt at an HTTP call may take, all of it (a system sending its answer "
        "a byte at a time cannot stretch it).",
        5.0, "float", high=DAY_S, above_low=True,
    ),
    Variable(
        "BACKEND_RETRIES", _DATA,
        "Extra attempts on a connection error, timeout, 5xx or 429.",
        2, "int", high=100,
    ),
    Variable(
        "ORDER_ID_PATTERN", _DATA,
        "What an order id looks like, as a regular expression matched whole and "
        "case-sensitively (the default is case-insensitive): `#W[0-9]{7}`. Ids are at most 64 "
        "printable ASCII characters without spaces, whatever the pattern.",
        shown_default=f"`{DEFAULT_PATTERN}`",
    ),
    Variable(
        "TOOLS_MCP_URL", _DATA,
        "Take the agents' tools from an MCP server: its streamable-HTTP URL "
        "(`http://127.0.0.1:8090/mcp`) or a command line that serves it on stdio "
        "(`uv run track-order mcp`).",
    ),
    Variable(
        "TOOLS_MCP_API_KEY", _DATA,
        "Sent to that server as `Authorization: Bearer …` (redacted everywhere).",
        kind="key", field="tools_mcp_api_key",
    ),
    Variable(
        "TOOLS_MCP_TIMEOUT_S", _DATA,
        "Seconds one tool call over MCP may take.",
        10.0, "float", "tools_mcp_timeout_s", high=DAY_S, above_low=True,
    ),
    Variable(
        "SERVICE_API_KEYS", _SERVING,
        "Comma-separated keys (at least 16 characters each) that `track-order serve`, `mcp "
        "--transport http` and the metrics ports of `worker` and `consume` want; needed to listen "
        "beyond loopback.",
        (), "keys", "service_api_keys",
    ),
    Variable(
        "ANSWER_CHECK", _ANSWERS,
        "What happens to an answer stating what no tool returned: kept under `UNVERIFIED` "
        "(`flag`), replaced by the answer from tool results alone (`replace`), or not checked.",
        CheckPolicy.FLAG.value, "choice", "answer_check",
        choices=tuple(CheckPolicy), convert=CheckPolicy,
    ),
    Variable(
        "TEMPORAL_ADDRESS", _TEMPORAL,
        "Where `track-order worker`, `submit` and `result` find the Temporal server.",
        "localhost:7233", "text", "temporal_address",
    ),
    Variable(
        "TEMPORAL_NAMESPACE", _TEMPORAL,
        "The Temporal namespace.",
        "default", "text", "temporal_namespace",
    ),
    Variable(
        "TEMPORAL_TASK_QUEUE", _TEMPORAL,
        "The task queue workers poll and orders are submitted to (`--task-queue` overrides it).",
        "order-tracking", "text", "temporal_task_queue",
    ),
    Variable(
        "BROKER_URL", _STREAMS,
        "The broker `track-order consume` and `publish` use (`--broker` wins): "
        "`nats://HOST:4222`, `redis://HOST:6379/0` or `kafka://HOST:9092`.",
    ),
    Variable(
        "ADK_DISABLE_LOAD_DOTENV", _FILES,
        "`1`: read neither `order_tracking/.env` nor `./.env` (the tests set it).",
        choices=("1", "true", "yes"), read_by="ADK",
    ),
)
# fmt: on

_BY_NAME = {v.name: v for v in VARIABLES}


def variable(name: str) -> Variable:
    return _BY_NAME[name]


def default_of(name: str) -> Any:
    """The default of a variable: what ``Settings`` fields default to."""
    return _BY_NAME[name].default


def read_fields(env: Mapping[str, str]) -> dict[str, Any]:
    """Every ``Settings`` field the generic reader fills, read from ``env``, in table order."""
    return {v.field: v.read(env) for v in VARIABLES if v.field and v.kind}
