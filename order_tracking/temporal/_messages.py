"""What crosses the Temporal server: plain, JSON-friendly dataclasses (no agent library), so
the workflow sandbox, the client and the worker share them without importing the stack.

Both directions are a peer's: anyone who can reach the server can start a ``TrackOrder`` with
any input, or complete one with any result. So each enters through the way in
(``core/inbound.py``): a worker re-checks a request (:func:`checked_request`: the id against
its own ``ORDER_ID_PATTERN``, its own limits, which a request may only tighten), and ``result``
re-checks a workflow's result (:func:`result_from_data`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..core import inbound
from ..core.inbound import Refused
from ..core.order_ids import OrderIdPattern
from ..core.results import AgentResult, RunLimits, Status
from ..core.settings import CheckPolicy

__all__ = [
    "AgentData",
    "AgentRequest",
    "OrderRequest",
    "checked_request",
    "result_from_data",
    "result_to_data",
]

MAX_ANSWER_CHARS = 100_000  # an answer in a workflow's result; a model's is far shorter
MAX_ERROR_CHARS = 2_000
# From the least strict to the most: a request may ask for a stricter check, never a looser.
_STRICTNESS = (CheckPolicy.OFF, CheckPolicy.FLAG, CheckPolicy.REPLACE)


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
    cached_calls: int = 0


def result_to_data(result: AgentResult) -> AgentData:
    data: dict[str, Any] = asdict(result)
    data.pop("session_id", None)
    data["status"] = result.status.value
    data["tool_calls"] = list(result.tool_calls)
    data["tool_args"] = list(result.tool_args)
    data["unsupported_claims"] = list(result.unsupported_claims)
    return AgentData(**data)


def checked_request(
    request: AgentRequest, pattern: OrderIdPattern, own: RunLimits, policy: CheckPolicy
) -> tuple[str, RunLimits, CheckPolicy]:
    """A request as this worker will run it: the id re-checked against ``pattern``, and this
    worker's limits (``own``, ``policy``), tightened where the request asks for less (a
    shorter deadline, fewer calls, tokens or dollars, a stricter answer check) and never
    loosened (``deadline_s=86400``, ``max_tokens=0`` or ``ANSWER_CHECK=off`` change nothing).
    ``Refused`` when the id is not one."""
    order_id = inbound.order_id(request.order_id, pattern)
    limits = RunLimits(
        deadline_s=inbound.tightened(own.deadline_s, request.deadline_s),
        max_model_calls=inbound.tightened(own.max_model_calls, request.max_model_calls),
        max_tokens=inbound.tightened(own.max_tokens, request.max_tokens, zero_is_unlimited=True),
        max_cost_usd=inbound.tightened(
            own.max_cost_usd, request.max_cost_usd, zero_is_unlimited=True
        ),
    )
    asked = request.answer_check if request.answer_check in set(CheckPolicy) else policy
    stricter = max(policy, CheckPolicy(asked), key=_STRICTNESS.index)
    return order_id, limits, stricter


def _strings(value: Any, where: str, limit: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > inbound.MAX_ITEMS:
        raise Refused(f"{where}: must be a list")
    return tuple(_string(v, where, limit) for v in value)


def _string(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(f"{where}: must be a string of at most {limit} characters")
    return value


def result_from_data(data: AgentData) -> AgentResult:
    """A workflow's result, checked as it enters (``Refused`` when it does not fit): a known
    agent name and status, strings bounded, numbers in range. Its text is shown through the
    way out like any answer."""
    if not isinstance(data.status, str) or data.status not in set(Status):
        raise Refused(f"status: {inbound.shown_name(str(data.status))} is not a status")
    if not (data.verified is None or isinstance(data.verified, bool)):
        raise Refused("verified: must be true, false or null")
    return AgentResult(
        agent=inbound.code(data.agent, "agent"),
        status=Status(data.status),
        text=_string(data.text, "text", MAX_ANSWER_CHARS),
        error=None if data.error is None else _string(data.error, "error", MAX_ERROR_CHARS),
        elapsed_s=inbound.money(data.elapsed_s, "elapsed_s", 1e9),
        tool_calls=_strings(data.tool_calls, "tool_calls", inbound.MAX_CODE),
        tokens=inbound.integer(data.tokens, "tokens", 0, 10**15),
        cost_usd=inbound.money(data.cost_usd, "cost_usd", 1e12),
        model_calls=inbound.integer(data.model_calls, "model_calls", 0, 10**9),
        retries=inbound.integer(data.retries, "retries", 0, 10**9),
        tool_args=_strings(data.tool_args, "tool_args", MAX_ERROR_CHARS),
        verified=data.verified,
        unsupported_claims=_strings(data.unsupported_claims, "unsupported_claims", MAX_ERROR_CHARS),
        cached_calls=inbound.integer(data.cached_calls, "cached_calls", 0, 10**9),
    )
