"""The run: one order question fanned out to every specialist at once (``fanout``), one agent's
run in its own Runner and session (``_agent``), and ``App``, which runs orders with what the
composition root built (``app``). ``python -m order_tracking.async_runner`` is ``__main__.py``.

The article's names (``run_all_agents``, ``run_agent_task``, ...) load lazily from here, so
importing ``App`` stays light (no agent library until an order runs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker sees; at run time these load on first use
    from ._agent import APP_NAME, USER_ID, TurnLog, prompt_for, run_agent_task
    from .app import App
    from .fanout import DEFAULT_ORDERS_IN_FLIGHT, run_all_agents, track_order, track_orders

_LAZY = {
    "APP_NAME": "._agent",
    "USER_ID": "._agent",
    "TurnLog": "._agent",
    "prompt_for": "._agent",
    "run_agent_task": "._agent",
    "DEFAULT_ORDERS_IN_FLIGHT": ".fanout",
    "run_all_agents": ".fanout",
    "track_order": ".fanout",
    "track_orders": ".fanout",
    "App": ".app",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
