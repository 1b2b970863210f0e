"""The five specialist agents of the article and the root coordinator, as ADK agents.

What each specialist is (description, instruction, answer format, tools) is data in
``specialists.py``; models are passed in (``models(agent_name) -> BaseLlm``, see
``models/gateway.py``) and so are the tools (``tools.build_tools`` over the configured backends), so
tests and benchmarks can hand in any model and any data. The composition root
(``composition.py``) builds the agents for a run, and ``root_agent`` for ``adk web``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from google.adk.agents import Agent
from google.adk.tools.base_tool import BaseTool

from ..core.workarounds import DeclaredOnceTool, mark_a2a_missing
from ..models.gateway import ModelFactory
from .guard import input_guard
from .specialists import COORDINATOR, SPECIALIST_NAMES, SPECIALISTS, Specialist

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["DEFAULT_MAX_INPUT_CHARS", "build_order_agents", "build_root_agent"]

DEFAULT_MAX_INPUT_CHARS = 2_000


def _fixed(text: str) -> Callable[[Any], str]:
    # An instruction *provider*: ADK then leaves {placeholders} alone instead of
    # treating them as session-state variables.
    def instruction(_ctx: Any) -> str:
        return text

    return instruction


def _agent(spec: Specialist, model: Any, tools: Mapping[str, Tool], max_input_chars: int) -> Agent:
    return Agent(
        name=spec.name,
        model=model,
        description=spec.description,
        instruction=_fixed(spec.instruction),
        tools=[_adk_tool(tools[name]) for name in spec.tools],
        before_model_callback=input_guard(max_input_chars),
    )


def _adk_tool(tool: Any) -> Any:
    """An in-process function as an ADK tool; a tool that is one already (from an MCP
    server, ``mcp_tools``) as it is."""
    return tool if isinstance(tool, BaseTool) else DeclaredOnceTool(tool)


def _article_tools() -> Mapping[str, Tool]:
    from ..backends import mock_backends
    from .tools import build_tools

    return build_tools(mock_backends())


def build_order_agents(
    models: ModelFactory,
    names: Sequence[str] = SPECIALIST_NAMES,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    *,
    tools: Mapping[str, Tool] | None = None,
) -> list[Agent]:
    """Fresh specialist agents for the concurrent runner: no parent, no transfer instructions.
    ``tools`` by name (``tools.build_tools``); by default over the article's data."""
    mark_a2a_missing()
    tools = tools or _article_tools()
    by_name = {s.name: s for s in SPECIALISTS}
    return [_agent(by_name[name], models(name), tools, max_input_chars) for name in names]


def build_root_agent(
    models: ModelFactory,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    *,
    tools: Mapping[str, Tool] | None = None,
) -> Agent:
    """The coordinator with its own specialist instances (an agent has only one parent).

    ADK adds the transfer-to-parent and transfer-to-peer instructions to these instances only.
    """
    mark_a2a_missing()
    tools = tools or _article_tools()
    return Agent(
        name=COORDINATOR.name,
        model=models(COORDINATOR.name),
        description=COORDINATOR.description,
        instruction=_fixed(COORDINATOR.instruction),
        sub_agents=[_agent(s, models(s.name), tools, max_input_chars) for s in SPECIALISTS],
        before_model_callback=input_guard(max_input_chars),
    )
