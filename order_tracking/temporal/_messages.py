"""What crosses the Temporal server: plain, JSON-friendly dataclasses (no agent library), so
the workflow sandbox, the client and the worker share them without importing the stack."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.results import AgentResult, Status

__all__ = ["AgentData", "AgentRequest", "OrderRequest", "result_from_data", "result_to_data"]


@dataclass(frozen=True)
class OrderRequest:
    """One order: ask ``agents`` about ``order_id``, each within ``deadline_s``, sharing the
    order's token and cost budget (each agent gets an equal share: budgets live in a run's
    context, which does not cross activities)."""

    order_id: str
    agents: list[str]
    deadline_s: float
    max_tokens: int = 0
    max_cost_usd: float = 0.0
    max_model_calls: int = 10
    answer_check: str = "flag"  # ANSWER_CHECK of the submitter (see answers/policy.py)

    def for_agent(self, agent: str) -> AgentRequest:
        share = max(1, len(self.agents))
        return AgentRequest(
            order_id=self.order_id,
            agent=agent,
            deadline_s=self.deadline_s,
            max_tokens=self.max_tokens // share,
            max_cost_usd=self.max_cost_usd / share,
            max_model_calls=self.max_model_calls,
            answer_check=self.answer_check,
        )


@dataclass(frozen=True)
class AgentRequest:
    order_id: str
    agent: str
    deadline_s: float
    max_tokens: int = 0
    max_cost_usd: float = 0.0
    max_model_calls: int = 10
    answer_check: str = "flag"


@dataclass(frozen=True)
class AgentData:
    """An ``AgentResult`` as data (statuses as strings)."""

    agent: str
    status: str
    text: str
    error: str | None
    elapsed_s: float
    tool_calls: list[str] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float = 0.0
    model_calls: int = 0
    retries: int = 0
    tool_args: list[str] = field(default_factory=list)
    verified: bool | None = None
    unsupported_claims: list[str] = field(default_factory=list)


def result_to_data(result: AgentResult) -> AgentData:
    data: dict[str, Any] = asdict(result)
    data.pop("session_id", None)
    data["status"] = result.status.value
    data["tool_calls"] = list(result.tool_calls)
    data["tool_args"] = list(result.tool_args)
    data["unsupported_claims"] = list(result.unsupported_claims)
    return AgentData(**data)


def result_from_data(data: AgentData) -> AgentResult:
    return AgentResult(
        agent=data.agent,
        status=Status(data.status),
        text=data.text,
        error=data.error,
        elapsed_s=data.elapsed_s,
        tool_calls=tuple(data.tool_calls),
        tokens=data.tokens,
        cost_usd=data.cost_usd,
        model_calls=data.model_calls,
        retries=data.retries,
        tool_args=tuple(data.tool_args),
        verified=data.verified,
        unsupported_claims=tuple(data.unsupported_claims),
    )
