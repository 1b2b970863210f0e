"""Fan one order question out to every specialist at once; wall time is the slowest agent's.

Each agent gets its own Runner, InMemorySessionService and session id, so concurrent runs
never share conversation state. A failing agent becomes a failed ``AgentResult``; it never
aborts the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from google.adk.agents import BaseAgent
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

from .resilience import describe_error
from .tracing import WORKFLOW_NAME, Tracing

APP_NAME = "order_tracking"
USER_ID = "track-order"


@dataclass(frozen=True)
class AgentResult:
    """One agent's answer, or why it has none. Data, never a bare exception."""

    agent: str
    ok: bool
    text: str
    error: str | None
    elapsed_s: float
    tool_calls: tuple[str, ...] = ()
    session_id: str | None = None


@dataclass(frozen=True)
class OrderReport:
    order_id: str
    results: tuple[AgentResult, ...]
    wall_s: float
    trace_file: Path | None = None

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def sequential_estimate_s(self) -> float:
        """What the same runs would have taken one after another."""
        return sum(r.elapsed_s for r in self.results)


def prompt_for(order_id: str) -> str:
    return f"What is the status of order {order_id}?"


async def run_agent_task(agent: BaseAgent, prompt: str, session_id: str) -> AgentResult:
    """Run one agent on its own Runner and session; errors come back as a failed result."""
    start = time.perf_counter()
    session_service = InMemorySessionService()
    runner = Runner(agent=agent, app_name=APP_NAME, session_service=session_service)
    tool_calls: list[str] = []
    text = ""
    try:
        await session_service.create_session(
            app_name=APP_NAME, user_id=USER_ID, session_id=session_id
        )
        message = types.Content(role="user", parts=[types.Part(text=prompt)])
        async for event in runner.run_async(
            user_id=USER_ID, session_id=session_id, new_message=message
        ):
            tool_calls.extend(call.name for call in event.get_function_calls())
            if event.is_final_response() and event.content and event.content.parts:
                text = "".join(p.text for p in event.content.parts if p.text and not p.thought)
        ok = bool(text.strip())
        return AgentResult(
            agent=agent.name,
            ok=ok,
            text=text.strip(),
            error=None if ok else "the agent gave no answer",
            elapsed_s=time.perf_counter() - start,
            tool_calls=tuple(tool_calls),
            session_id=session_id,
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - one agent's failure is data for the caller
        return AgentResult(
            agent=agent.name,
            ok=False,
            text="",
            error=describe_error(exc),
            elapsed_s=time.perf_counter() - start,
            tool_calls=tuple(tool_calls),
            session_id=session_id,
        )
    finally:
        await runner.close()


async def run_all_agents(
    order_id: str, agents: Sequence[BaseAgent] | None = None
) -> list[AgentResult]:
    """Ask every agent about ``order_id`` concurrently; results keep the agents' order."""
    if agents is None:
        from .agent import ORDER_AGENTS

        agents = ORDER_AGENTS
    prompt = prompt_for(order_id)
    tasks = [
        run_agent_task(agent, prompt, session_id=f"{agent.name}-{uuid4()}") for agent in agents
    ]
    # run_agent_task turns errors into results; return_exceptions is the second line of
    # defence so one escaped error can still never sink the batch.
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    results = []
    for agent, outcome in zip(agents, outcomes, strict=True):
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
        if isinstance(outcome, BaseException):
            outcome = AgentResult(agent.name, False, "", describe_error(outcome), 0.0)
        results.append(outcome)
    return results


async def warm_up() -> None:
    """Run one offline turn so LiteLLM's and ADK's lazy first-call imports (~1.5 s here:
    mcp, LiteLLM's proxy types, ADK's flows) happen before the clock starts, not inside
    every agent's timing. Call it before tracing is set up, so it leaves no trace."""
    from google.adk.agents import Agent
    from google.adk.models.lite_llm import LiteLlm

    from .config import OFFLINE_MODEL
    from .offline_model import register
    from .tools import get_order_status

    register()
    agent = Agent(name="warm_up", model=LiteLlm(model=OFFLINE_MODEL), tools=[get_order_status])
    await run_agent_task(agent, prompt_for("ORD-1001"), session_id="warm-up")


async def track_order(
    order_id: str, agents: Sequence[BaseAgent], tracing: Tracing | None = None
) -> OrderReport:
    """One order, all agents, one trace (when tracing is on), timed end to end."""
    start = time.perf_counter()
    scope = tracing.trace(WORKFLOW_NAME, {"order_id": order_id}) if tracing else nullcontext()
    with scope as trace_id:
        results = await run_all_agents(order_id, agents)
    wall_s = time.perf_counter() - start
    trace_file = None
    if tracing and trace_id:
        tracing.flush()
        trace_file = tracing.file_for(trace_id)
    return OrderReport(order_id, tuple(results), wall_s, trace_file)


if __name__ == "__main__":
    from .cli import main

    main(prog_name="python -m order_tracking.async_runner")
