"""order_tracking: five concurrent Google ADK agents answer one order question.

Public exports (``app``, ``root_agent``, ``ORDER_AGENTS``, ``run_all_agents``, ``AgentResult``)
load lazily, so ``import order_tracking`` stays cheap and reads no configuration. ``app`` (ADK's
App, with ``root_agent`` and a plugin) is what ``adk web`` looks for: its first access is
``adk web``'s start-up (``composition.adk_web``).
"""

from .config import set_library_environment as _set_library_environment

# Before any module of ours can import litellm (see config.LIBRARY_ENVIRONMENT).
_set_library_environment()

_LAZY = {
    "run_all_agents": "async_runner",
    "AgentResult": "results",
}

__all__ = ["ORDER_AGENTS", "AgentResult", "app", "root_agent", "run_all_agents"]


def __getattr__(name: str):
    if name in ("app", "root_agent", "ORDER_AGENTS"):
        from .composition import adk_web

        return adk_web(name)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
