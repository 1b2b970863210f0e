"""The composition root: the one place a run is put together.

Every entry point (the commands, the HTTP service, the workers, ``adk web``, the benchmark):

1. :func:`configure_process`: logging, ``.env`` files, secrets to redact, settings. Cheap: no
   agent library is imported, so a bad setting fails fast.
2. :func:`build` -> :class:`App`: the libraries' process-wide switches and the offline
   provider (once per process), the warm-up, tracing, the models with their guards, the
   backends (``ORDER_BACKEND``) and the tools over them, the agents. An ``App`` holds what a
   run needs and runs orders.

Only this module and ``core/settings.py`` read the environment. Extension points are wired here: a
new agent comes from ``specialists.SPECIALISTS``, a failure policy is a guard added in
:func:`production_models`, a model provider is a LiteLLM model name in the settings, a data
source is an adapter in ``backends/`` chosen by :func:`open_backends`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from .agents.specialists import AGENT_NAMES
from .async_runner.app import App
from .core.redaction import install_log_redaction, register_secret_values, register_secrets
from .core.results import RunLimits
from .core.settings import OFFLINE_MODEL, Settings, load_env_files
from .core.values import url_passwords
from .ops.logs import LoggingMode, adopt_library_handlers, configure_logging, say

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .answers.policy import AnswerCheck
    from .backends import Backends
    from .models.gateway import ModelFactory
    from .models.offline import OfflineModel
    from .models.resilience import AttemptGuard
    from .ops.watch import Watch

__all__ = ["App", "adk_web", "announce_model_choice", "answer_check", "build"]
__all__ += ["configure_libraries", "configure_process", "eval_apps", "mcp_server"]
__all__ += ["open_backends", "production_models", "warm_up"]


def configure_process(*, logging_mode: LoggingMode = "quiet") -> Settings:
    """Start-up, before anything else runs: logging, ``.env`` files, the secrets to redact,
    and the settings (a bad one raises ``ConfigError``). Idempotent.

    ``logging_mode``: ``quiet`` keeps the libraries' own warnings off the terminal,
    ``verbose`` shows them, ``host`` leaves logging to the program we run in (``adk web``).
    """
    configure_logging(logging_mode)  # the human format while the settings are read
    load_env_files()
    register_secrets(os.environ)
    install_log_redaction()
    settings = Settings.from_env(agent_names=AGENT_NAMES)
    answer_check(settings)  # an ORDER_ID_PATTERN the check cannot run is a ConfigError
    if settings.log_format != "text":
        configure_logging(logging_mode, settings.log_format)
    stores = url_passwords(settings.model_cache, settings.spend_limit_store)  # redis://:PW@
    register_secret_values([*settings.service_api_keys, *stores])
    return settings


def announce_model_choice(settings: Settings, stream: TextIO | None = None) -> None:
    """One line on stderr (a log record with ``LOG_FORMAT=json``) when the offline model is
    used because nothing else was configured."""
    if settings.model_note and stream is not None:
        print(settings.model_note, file=stream)
    elif settings.model_note:
        say(settings.model_note, logger="order_tracking.models")


_offline: OfflineModel | None = None


def configure_libraries() -> OfflineModel:
    """The libraries' process-wide switches and the offline provider (what an agent degrades
    to, so registered even for real models), once per process."""
    global _offline
    if _offline is None:
        import litellm
        import stamina

        from .agents.specialists import ANSWER_FORMATS
        from .core.workarounds import quiet_foreign_context_detach
        from .models import offline as offline_model

        quiet_foreign_context_detach()  # adk web's chat turns log cleanly (see workarounds)
        # Otherwise every failed call prints a "Give Feedback / Get Help" banner on stdout.
        litellm.suppress_debug_info = True
        # Retries are traced and logged by ResilientModel; stamina's own hooks would print them.
        stamina.instrumentation.set_on_retry_hooks([])
        _offline = offline_model.register(ANSWER_FORMATS)
        adopt_library_handlers()  # LiteLLM has just installed its own stderr handler
    return _offline


async def warm_up() -> None:
    """One offline turn through the agents' model wiring, before tracing (it leaves no trace),
    so LiteLLM's and ADK's lazy first-call imports (~1 s) happen before any clock starts."""
    from .agents.build import build_order_agents
    from .async_runner import prompt_for, run_agent_task
    from .models.gateway import litellm_models

    configure_libraries()
    settings = Settings(default_model=OFFLINE_MODEL)
    (agent,) = build_order_agents(litellm_models(settings), names=["order_status_agent"])
    # The article's data: the warm-up must not touch the user's systems.
    await run_agent_task(
        agent, prompt_for("ORD-1001"), "warm-up", limits=RunLimits.from_settings(settings)
    )
    # What start-up made lives as long as the process: frozen, out of full collections (ORD-1001:
    # 0.40 s, then 0.13-0.16 s); then collect less often (700, 10, 10 took ~15% of a batch).
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)


def production_models(
    settings: Settings, watch: Watch | None = None, *, clock: Callable[[], float] = time.monotonic
) -> ModelFactory:
    """The models agents get in production: LiteLLM, a circuit breaker per model shared by the
    process's agents (``clock``: theirs), a hint when calls keep timing out, and (with a ``watch``)
    every call metered and held against the spend limits. Failure policies join ``guards`` here."""
    from .models.gateway import litellm_models
    from .models.meter import ModelMeter
    from .models.resilience import Breakers, TimeoutHint
    from .tracing.setup import trace_circuit_change

    breakers = Breakers(
        threshold=settings.circuit_threshold,
        cooldown_s=settings.circuit_cooldown_s,
        on_change=trace_circuit_change,
        clock=clock,
    )
    warn = partial(say, level=logging.WARNING, logger="order_tracking.models")
    guards: list[AttemptGuard] = [breakers, TimeoutHint(warn, settings.model_timeout_s)]
    if watch is not None:
        guards.append(ModelMeter(watch.metrics, watch.spend))  # innermost: calls made
        if watch.metrics is not None:
            watch.metrics.watch_circuits("model", breakers)
    return litellm_models(settings, guards=guards)


def open_backends(settings: Settings) -> Backends:
    """The systems ``ORDER_BACKEND`` names; remote ones with a circuit breaker per system
    (state changes traced, like the models'). A database that is missing or not ours raises
    ``ConfigError``."""
    from . import backends
    from .core.settings import ConfigError
    from .tracing.setup import trace_circuit_change

    try:
        return backends.open_backends(
            settings.backend, settings.order_ids, on_circuit_change=trace_circuit_change
        )
    except backends.BackendConfigError as exc:
        raise ConfigError(str(exc)) from None


def build(
    settings: Settings,
    *,
    models: ModelFactory | None = None,
    backends: Backends | None = None,
    traced: bool = True,
    warm: bool = False,
    trace_part: str | None = None,
    watch: Watch | None = None,
) -> App:
    """Everything a run needs. ``models``, ``backends``, ``watch`` (metrics, spend limits)
    replace the production ones (tests); ``traced`` installs Monocle (first set-up wins);
    ``warm`` warms up first (not in an event loop); ``trace_part`` names this process in trace
    files. Tools: ``TOOLS_MCP_URL``'s, else the backends'; one not opened: ``ConfigError``."""
    from .agents.build import build_order_agents
    from .agents.tools import build_tools
    from .models.cache import configure_model_cache
    from .models.meter import warn_unpriced
    from .ops.watch import Watch
    from .tracing.setup import setup_tracing

    if settings.tools_mcp and backends is None:
        from .mcp.client import remote_tools

        backends, tools = remote_tools(settings, os.environ)
    else:
        backends = backends or open_backends(settings)
        tools = build_tools(backends, settings.order_ids)
    configure_libraries()
    if warm:
        asyncio.run(warm_up())
    configure_model_cache(settings)  # after the warm-up: its offline answer is not kept
    tracing = setup_tracing(settings, part=trace_part) if traced else None
    if watch is None:
        watch = Watch.for_settings(settings)
        if settings.max_cost_usd_per_hour or settings.max_cost_usd_per_day:
            warn_unpriced(settings)
    models = models or production_models(settings, watch)
    if backends.breakers is not None and watch.metrics is not None:
        watch.metrics.watch_circuits("backend", backends.breakers)
    agents = build_order_agents(models, max_input_chars=settings.max_input_chars, tools=tools)
    return App(
        settings=settings,
        models=models,
        agents=tuple(agents),
        tracing=tracing,
        limits=RunLimits.from_settings(settings),
        backends=backends,
        tools=tools,
        answer_check=answer_check(settings),
        watch=watch,
    )


def answer_check(settings: Settings) -> AnswerCheck:
    """The check every answer goes through (``ANSWER_CHECK``), with the configured order ids
    (run by a linear-time engine: a pattern it cannot run is a ``ConfigError``) and, for
    ``replace``, the agents' answers from tool results alone (built when first needed)."""
    from .answers.policy import AnswerCheck

    def rebuild(agent: str, results: Sequence[Any]) -> str:
        from .agents.specialists import ANSWER_FORMATS
        from .models.offline import compose_answer

        return compose_answer(ANSWER_FORMATS.get(agent), results)

    ids = settings.order_ids
    pattern = None if ids.is_default else ids.regex
    return AnswerCheck(policy=settings.answer_check, order_id_pattern=pattern, rebuild=rebuild)


def eval_apps(
    settings: Settings, model_names: Sequence[str], *, builtin_data: bool
) -> dict[str, App]:
    """``track-order eval``'s ``App`` per model (default: the configured ones): every agent on
    that model alone (no fallback, degraded answer or breaker: a model is scored on its own
    answers), on the built-in data (``builtin_data``) or the configured tools; warm, traced."""
    from .backends import mock_backends
    from .models.gateway import litellm_models

    apps: dict[str, App] = {}
    for name in model_names or [None]:
        chosen = settings.with_model(name) if name else replace(settings, fallback_models=())
        extra = len(chosen.model_overrides)
        label = chosen.default_model + (f" (+{extra} per-agent)" if extra else "")
        models = litellm_models(chosen, degrade=False)
        data = mock_backends() if builtin_data else None  # else TOOLS_MCP_URL or ORDER_BACKEND
        apps[label] = build(chosen, models=models, backends=data, warm=not apps)
    return apps


def mcp_server(settings: Settings, *, max_in_flight: int) -> tuple[MCPServer, Backends]:
    """``track-order mcp``: the four tools over ``ORDER_BACKEND`` as an MCP server; no agent."""
    from .agents.tools import build_tools
    from .mcp.server import build_mcp_server

    backends = open_backends(settings)
    tools = build_tools(backends, settings.order_ids)
    return build_mcp_server(tools, max_in_flight=max_in_flight), backends


_adk_web: dict[str, Any] = {}


def adk_web(name: str) -> Any:
    """``adk web`` start-up, on the first access of the package's ``app`` (``.env`` loaded by
    then): ``app`` (the coordinator, with plugins: non-text user messages refused, answers
    checked), ``root_agent``, ``ORDER_AGENTS``. Each chat turn is one trace file."""
    if not _adk_web:
        from google.adk.apps import App as AdkApp

        from .agents.guard import UserMessageGuard
        from .answers.plugin import AnswerCheckPlugin
        from .answers.policy import AnswerCheck

        settings = configure_process(logging_mode="host")
        announce_model_choice(settings)
        tracker = build(settings)
        coordinator = tracker.coordinator()
        plugins = [UserMessageGuard(), AnswerCheckPlugin(tracker.answer_check or AnswerCheck())]
        app = AdkApp(name="order_tracking", root_agent=coordinator, plugins=plugins)
        _adk_web.update(app=app, root_agent=coordinator, ORDER_AGENTS=list(tracker.agents))
    return _adk_web[name]
