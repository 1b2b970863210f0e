"""The peers we measure against, built from the same specialists, tools and LiteLLM models.

- ``plain_gather``: the article's pattern with nothing added: one ``Runner`` and
  ``InMemorySessionService`` per agent, ``asyncio.gather``; no resilience, guard or tracing.
- ``parallel_agent``: ADK's (deprecated) ``ParallelAgent``: one Runner, one session, the five
  specialists as branches.

Each returns ``(wall_s, {agent: (elapsed_s, text)})`` so the harness treats them like ours.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable
from uuid import uuid4

from google.adk.agents import Agent
from google.adk.models.lite_llm import LiteLlm
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

from order_tracking.agents.specialists import SPECIALISTS
from order_tracking.agents.tools import build_tools
from order_tracking.backends import mock_backends

AgentTimes = dict[str, tuple[float, str]]
APP, USER = "baseline", "bench"


def plain_agents(model: str, **litellm_kwargs: object) -> list[Agent]:
    """The five specialists as bare ADK agents on ``LiteLlm(model=...)``, their tools over
    the article's data."""
    tools = build_tools(mock_backends())
    return [
        Agent(
            name=spec.name,
            model=LiteLlm(model=model, **litellm_kwargs),
            description=spec.description,
            instruction=_fixed(spec.instruction),
            tools=[tools[name] for name in spec.tools],
        )
        for spec in SPECIALISTS
    ]


def _fixed(text: str) -> Callable[[object], str]:
    def instruction(_ctx: object) -> str:
        return text

    return instruction


def _message(order_id: str) -> types.Content:
    return types.Content(
        role="user", parts=[types.Part(text=f"What is the status of order {order_id}?")]
    )


async def run_one(agent: Agent, order_id: str) -> tuple[float, str]:
    """One agent on its own Runner and session: the article's ``run_agent_task``."""
    start = time.perf_counter()
    sessions = InMemorySessionService()
    runner = Runner(agent=agent, app_name=APP, session_service=sessions)
    session_id = f"{agent.name}-{uuid4()}"
    await sessions.create_session(app_name=APP, user_id=USER, session_id=session_id)
    text = ""
    try:
        async for event in runner.run_async(
            user_id=USER, session_id=session_id, new_message=_message(order_id)
        ):
            if event.is_final_response() and event.content and event.content.parts:
                text = "".join(p.text or "" for p in event.content.parts)
    finally:
        await runner.close()
    return time.perf_counter() - start, text


async def plain_gather(order_id: str, agents: list[Agent]) -> tuple[float, AgentTimes]:
    start = time.perf_counter()
    results = await asyncio.gather(*(run_one(a, order_id) for a in agents))
    return time.perf_counter() - start, {a.name: r for a, r in zip(agents, results, strict=True)}


def parallel_runner(agents: list[Agent]) -> Runner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ParallelAgent is deprecated in ADK 2.x
        from google.adk.agents import ParallelAgent

        fan_out = ParallelAgent(name="fan_out", sub_agents=agents)
    return Runner(agent=fan_out, app_name=APP, session_service=InMemorySessionService())


async def parallel_agent(order_id: str, runner: Runner) -> tuple[float, AgentTimes]:
    """One ParallelAgent run; an agent's time is when its final answer arrived."""
    start = time.perf_counter()
    session_id = f"fan_out-{uuid4()}"
    await runner.session_service.create_session(app_name=APP, user_id=USER, session_id=session_id)
    times: AgentTimes = {}
    async for event in runner.run_async(
        user_id=USER, session_id=session_id, new_message=_message(order_id)
    ):
        if event.is_final_response() and event.content and event.content.parts:
            text = "".join(p.text or "" for p in event.content.parts)
            times[event.author] = (time.perf_counter() - start, text)
    return time.perf_counter() - start, times
