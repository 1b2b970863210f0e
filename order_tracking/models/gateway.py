"""Every agent's model through LiteLLM, wrapped for resilience.

An agent's chain is its own model (``<AGENT>_MODEL``, else ``SHIPPING_MODEL``), then
``FALLBACK_MODELS``, then the built-in offline model as the degraded last resort, all inside a
``ResilientModel`` with the attempt guards the composition root hands in. Every model is a
``LiteLlm``: a bare ``"gpt-4o"`` would make ADK pick its own OpenAI class instead of LiteLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.lite_llm import LiteLlm

from ..core.settings import OFFLINE_MODEL, Settings
from ..core.workarounds import LITELLM_NO_MCP_GATEWAY
from . import offline as offline_model
from .resilience import AttemptGuard, ResilientModel, RetryPolicy

__all__ = ["ModelFactory", "litellm_model", "litellm_models"]

# From an agent's name to its model: how models are passed in (tests hand in fakes).
ModelFactory = Callable[[str], BaseLlm]


def litellm_model(name: str, settings: Settings) -> LiteLlm:
    """One LiteLLM model. ``num_retries=0``: retries happen in ``ResilientModel``, where each
    one is seen and traced (LiteLLM's own happen inside the provider SDK, unseen). The offline
    model gets the artificial latency the settings ask for (``OFFLINE_MODEL_LATENCY_S``) and
    the configured ``ORDER_ID_PATTERN``. With ``MODEL_CACHE`` on, its calls go through a
    client that accounts for the answers LiteLLM's cache gives (``models/cache.py``)."""
    extra: dict[str, Any] = dict(LITELLM_NO_MCP_GATEWAY)
    if settings.model_cache != "off":  # which answers LiteLLM's cache gave: they cost nothing
        from .cache import CacheAwareClient

        extra["llm_client"] = CacheAwareClient()
    if name == OFFLINE_MODEL and settings.offline_latency_s:
        extra[offline_model.LATENCY_PARAM] = settings.offline_latency_s
    if name == OFFLINE_MODEL and not settings.order_ids.is_default:
        # What an order id looks like is configuration, not a fact: the offline model is told.
        extra[offline_model.ORDER_ID_PARAM] = settings.order_ids.regex
    return LiteLlm(model=name, timeout=settings.model_timeout_s, num_retries=0, **extra)


def litellm_models(
    settings: Settings, guards: Sequence[AttemptGuard] = (), *, degrade: bool = True
) -> ModelFactory:
    """Every agent through LiteLLM: its model, then ``FALLBACK_MODELS``, then (``degrade``)
    the offline model as the degraded last resort, with retries and the given guards
    (circuit breakers). ``track-order eval`` scores a model alone: no degraded answer."""
    policy = RetryPolicy(retries=settings.model_retries, model_timeout_s=settings.model_timeout_s)

    def models(agent_name: str) -> BaseLlm:
        names = list(dict.fromkeys((settings.model_for(agent_name), *settings.fallback_models)))
        offline_only = names == [OFFLINE_MODEL]
        return ResilientModel.of(
            [litellm_model(n, settings) for n in names],
            degrade_to=None
            if offline_only or not degrade
            else litellm_model(OFFLINE_MODEL, settings),
            guards=guards,
            policy=policy,
        )

    return models
