"""order_tracking: five concurrent Google ADK agents answer one order question.

Public names, all loaded lazily so ``import order_tracking`` stays cheap and reads no
configuration: ``app``, ``root_agent``, ``ORDER_AGENTS`` (what ``adk web`` looks for; their
first access is ``adk web``'s start-up, ``composition.adk_web``), ``run_all_agents``, the
result types (``AgentResult``, ``OrderReport``, ``Status``, ``RunLimits``) and, from the
composition root, ``build`` and ``App``. ``order_tracking.composition`` and
``order_tracking.async_runner`` keep their names; every other module is internal and may move.

The package is a stack of wings, the ways in on top and the values every wing shares at the
bottom (``LAYERS``, top first). A module imports only from its own wing or from wings below
it; ``tests/test_architecture.py`` fails on an arrow that runs up.
"""

from .core.settings import set_library_environment as _set_library_environment

# Before any module of ours can import litellm (see core.settings.LIBRARY_ENVIRONMENT).
_set_library_environment()

# Wings, top first. A wing is a module path under ``order_tracking``; a module belongs to the
# longest one it is under. Each line: what the wing is. Two wings sit apart from their folder:
# ``async_runner.__main__`` is a way in (it runs the CLI) and ``answers.evaluation`` runs orders.
# Not imports, so not checked: ``tracing/setup.py`` names functions of ``backends`` and
# ``models`` as strings for Monocle to wrap (the tracer reaches up by name, never by import).
LAYERS: tuple[tuple[str, str], ...] = (
    ("async_runner.__main__", "python -m order_tracking.async_runner: the CLI, the article's way"),
    ("cli", "track-order: the commands, several orders at once, the --workers processes"),
    ("temporal", "durable runs: Temporal workers, the workflow, submit and result"),
    ("stream", "orders as they happen: a broker consumer (consume) and producer (publish)"),
    ("http", "track-order serve, the systems' reference API, the ASGI helpers they share"),
    ("composition", "the composition root: builds what a run needs from the settings"),
    ("mcp", "MCP both ways: the tools served to clients, the tools taken from a server"),
    ("answers.evaluation", "track-order eval: models scored on fixed cases (runs orders)"),
    ("async_runner", "the run: five agents at once, one agent's run, the App that runs orders"),
    ("answers", "is the answer right: claims checked against the tools' results"),
    ("agents", "the specialists, their tools, the ADK agents built from them"),
    ("backends", "the four systems (mock, SQLite, HTTP) and the data tools that fill them"),
    ("models", "LiteLLM wiring, the offline model, retries, breakers, budgets, the meter"),
    ("ops", "logs, metrics, the spend limits and their stores, the process's life"),
    ("tracing", "Monocle set-up, trace files, export, the trace viewer"),
    ("core", "settings, order ids, result values, redaction, sockets, library workarounds"),
)

_LAZY = {
    "run_all_agents": "async_runner",
    "AgentResult": "core.results",
    "OrderReport": "core.results",
    "Status": "core.results",
    "RunLimits": "core.results",
    "App": "composition",
    "build": "composition",
}

__all__ = [
    "ORDER_AGENTS",
    "AgentResult",
    "App",
    "OrderReport",
    "RunLimits",
    "Status",
    "app",
    "build",
    "root_agent",
    "run_all_agents",
]


def __getattr__(name: str):
    if name in ("app", "root_agent", "ORDER_AGENTS"):
        from .composition import adk_web

        return adk_web(name)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
