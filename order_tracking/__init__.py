"""order_tracking: five concurrent Google ADK agents answer one order question.

Public exports (``root_agent``, ``ORDER_AGENTS``, ``run_all_agents``, ``AgentResult``) load
lazily, so ``import order_tracking`` stays cheap and reads no configuration.
"""

import os as _os

# Must precede the first `import litellm` anywhere in the process: otherwise LiteLLM fetches a
# price map over the network at import and loads `.env` from whatever the cwd is.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
_os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

_LAZY = {
    "root_agent": "agent",
    "ORDER_AGENTS": "agent",
    "run_all_agents": "async_runner",
    "AgentResult": "results",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
