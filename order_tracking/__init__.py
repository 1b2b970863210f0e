"""order_tracking: five concurrent Google ADK agents answer one order question.

Public exports (``root_agent``, ``ORDER_AGENTS``, ``run_all_agents``, ``AgentResult``) load
lazily, so ``import order_tracking`` stays cheap and reads no configuration. ``root_agent`` is
what ``adk web`` looks for: its first access is ``adk web``'s start-up (``app.adk_web``).
"""

from .app import set_library_environment as _set_library_environment

# Before any module of ours can import litellm (see app.LIBRARY_ENVIRONMENT).
_set_library_environment()

_LAZY = {
    "run_all_agents": "async_runner",
    "AgentResult": "results",
}

__all__ = ["ORDER_AGENTS", "AgentResult", "root_agent", "run_all_agents"]


def __getattr__(name: str):
    if name in ("root_agent", "ORDER_AGENTS"):
        from .app import adk_web

        root_agent, order_agents = adk_web()
        return root_agent if name == "root_agent" else order_agents
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
