"""LiteLLM's own response cache (``MODEL_CACHE``), and what a cached answer costs: nothing.

LiteLLM keys an answer by the whole request: the model, every message (the agent's
instructions, the question, each tool call and each tool result), the tools and the
parameters (temperature, response format, ...). So an answer comes back from the cache only
when the facts the model was shown are the same, to the byte; a changed fact is a miss and a
real call. Per-attempt settings that do not change the answer (the timeout) are not in it.

ADK's ``LiteLlm`` makes every call (streamed or not) through the ``llm_client`` it is given:
ours, :class:`CacheAwareClient`, sees whether LiteLLM answered from the cache. A cached
answer's tokens are counted as *saved* (``RunUsage.from_cache``) and its usage set to zero,
so no budget, limit or metric counts them as spent; the trace gets a ``model.cache`` event
(hit or miss). The answer itself still goes through the run's checks like any other.

A Redis cache that stops answering is skipped (LiteLLM treats its errors as misses): every
call goes to the provider, said once in the log, and once when Redis answers again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import litellm
from google.adk.models.lite_llm import LiteLLMClient
from litellm._service_logger import ServiceLogging

from ..core.settings import Settings
from ..core.workarounds import preload_litellm_cache_hit
from ..ops.logs import say
from ..tracing.setup import trace_event
from .resilience import current_usage

__all__ = ["CacheAwareClient", "configure_model_cache"]

LOGGER = "order_tracking.models"
REDIS_TIMEOUT_S = 1.0  # a cache that hangs costs each call at most this, then is a miss
_ZERO = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

_configured: tuple[str, float, int] | None = None


def configure_model_cache(settings: Settings) -> bool:
    """Turn LiteLLM's cache on as ``MODEL_CACHE`` says (off: turned off), for every model
    call of the process; returns whether it is on. Set once per process (a second App with
    the same settings keeps it)."""
    global _configured
    spec = (settings.model_cache, settings.model_cache_ttl_s, settings.model_cache_max_items)
    if spec == _configured:
        return settings.model_cache != "off"
    from litellm.caching.caching import Cache, disable_cache

    disable_cache()
    _configured = spec
    kind, ttl = settings.model_cache, settings.model_cache_ttl_s
    if kind == "off":
        return False
    preload_litellm_cache_hit()  # ~2 s of imports now, not inside the first answer it gives
    # Every conversation, however long (LiteLLM's default skips requests of more than four
    # messages: every answer after a tool call). Completions only: ADK calls nothing else.
    common: dict[str, Any] = {
        "ttl": ttl,
        "max_messages": None,
        "supported_call_types": ["acompletion"],
    }
    if kind == "memory":
        from litellm.caching.in_memory_cache import InMemoryCache

        cache = Cache(type="local", **common)
        # LiteLLM's default keeps 200 answers for 10 minutes: a batch would evict its own.
        cache.cache = InMemoryCache(
            max_size_in_memory=settings.model_cache_max_items, default_ttl=int(ttl)
        )
    elif kind.startswith("disk:"):
        cache = Cache(type="disk", disk_cache_dir=str(Path(kind[len("disk:") :])), **common)
    else:
        cache = Cache(
            type="redis",
            url=kind,
            namespace="order_tracking:model",
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            service_logger_obj=_SaidOnce(),
            **common,
        )
    litellm.cache = cache
    return True


class CacheAwareClient(LiteLLMClient):
    """ADK's LiteLLM client, noting which answers came from LiteLLM's cache."""

    async def acompletion(self, model: Any, messages: Any, tools: Any, **kwargs: Any) -> Any:
        response = await super().acompletion(model, messages, tools, **kwargs)
        hit = bool((getattr(response, "_hidden_params", None) or {}).get("cache_hit"))
        usage = current_usage()
        if not hit:
            usage.cache_misses += 1
            trace_event("model.cache", {"model": model, "result": "miss"})
            return response
        usage.cache_hits += 1
        if isinstance(response, litellm.ModelResponse):
            saved = _free(response, model)
            trace_event("model.cache", {"model": model, "result": "hit", **saved})
            return response
        trace_event("model.cache", {"model": model, "result": "hit"})
        return _free_stream(response, model)


def _free(part: Any, model: str) -> dict[str, Any]:
    """A response (or the streamed chunk) carrying the usage of the call it was cached from:
    counted as saved, and zeroed (nobody paid for it this time)."""
    cached = part.get("usage")
    if not cached:
        return {}
    prompt, completion = cached.get("prompt_tokens") or 0, cached.get("completion_tokens") or 0
    saved = current_usage().saved(model, prompt, completion)
    part.usage = litellm.Usage(**_ZERO)
    return {"saved_tokens": prompt + completion, "saved_usd": saved}


async def _free_stream(stream: Any, model: str) -> AsyncIterator[Any]:
    """A cached answer replayed as a stream: its usage arrives with a chunk (the last)."""
    async for chunk in stream:
        _free(chunk, model)
        yield chunk


class _SaidOnce(ServiceLogging):
    """LiteLLM's hook for the health of a Redis it uses (``service_logger_obj``): a failure
    said once, and once again when Redis answers. Nothing else is reported (LiteLLM's own
    service callbacks are not used here)."""

    down = False

    async def async_service_success_hook(self, *args: Any, **kwargs: Any) -> None:
        if self.down:
            self.down = False
            say("MODEL_CACHE: Redis answers again; answers are cached again", logger=LOGGER)

    async def async_service_failure_hook(self, *args: Any, error: Any = "", **kwargs: Any) -> None:
        if not self.down:
            self.down = True
            say(
                f"MODEL_CACHE: Redis cannot be reached ({error}); the cache is skipped, every "
                "model call goes to the provider until it answers",
                logging.WARNING,
                LOGGER,
            )
