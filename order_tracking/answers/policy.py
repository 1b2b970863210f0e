"""What happens to an answer that states what no tool returned: ``ANSWER_CHECK``.

``flag`` (the default) keeps the answer and marks it unverified, with the claims no tool
result supports; ``replace`` puts the answer built from the tool results alone in its place
(what an agent says when every model has failed); ``off`` checks nothing. The check itself
is ``check.check_answer``; this module applies a policy to its verdict and records
the verdict in the trace (an ``answer.check`` event on the agent's span).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.settings import CheckPolicy
from .check import check_answer

__all__ = ["AnswerCheck", "CheckPolicy", "Rebuild", "Review", "ToolResult"]

# (tool name, what it returned), in the order the tools answered.
ToolResult = tuple[str, Any]
# The answer an agent gives from tool results alone: (agent name, tool results) -> text.
Rebuild = Callable[[str, Sequence[ToolResult]], str]
_SHOWN_CLAIMS = 5  # unsupported claims named in a one-line reason; all are in the result


@dataclass(frozen=True)
class Review:
    """An answer after the check. ``verified`` is None when nothing was checked (policy off);
    ``unsupported`` holds the claims as written; ``text`` is the answer to show (the rebuilt
    one when ``replaced``)."""

    verified: bool | None
    unsupported: tuple[str, ...] = ()
    text: str = ""
    replaced: bool = False
    failure: str | None = None  # why the answer could not be checked at all

    @property
    def reason(self) -> str:
        """One line for the report: which claims no tool returned."""
        if self.failure:
            return f"could not be checked ({self.failure})"
        shown = ", ".join(self.unsupported[:_SHOWN_CLAIMS])
        more = len(self.unsupported) - _SHOWN_CLAIMS
        if more > 0:
            shown += f" and {more} more"
        return f"states what no tool returned: {shown}"


@dataclass(frozen=True)
class AnswerCheck:
    """The policy every answer goes through. ``order_id_pattern``: an unanchored regular
    expression for order ids (``None``: ``ORD-`` and digits); ``rebuild``: the answer from tool
    results alone, for ``replace`` (without one, ``replace`` flags)."""

    policy: CheckPolicy = CheckPolicy.FLAG
    order_id_pattern: str | None = None
    rebuild: Rebuild | None = None

    def review(
        self,
        agent: str,
        text: str,
        tool_results: Sequence[ToolResult],
        *,
        order_id: str | None = None,
        record: Callable[[str, dict[str, Any]], None] | None = None,
        rebuild_from: Sequence[ToolResult] | None = None,
    ) -> Review:
        """``text`` checked against ``tool_results`` (the results of the tools ``agent``
        called in the same run) for the order ``order_id``; ``record(name, attributes)``
        receives the ``answer.check`` event (``tracing.trace_event``). A replacement is built
        from ``rebuild_from`` (default: ``tool_results``; a chat's turn, not its history)."""
        if self.policy == CheckPolicy.OFF:
            return Review(None, text=text)
        try:
            verdict = check_answer(
                text,
                [result for _, result in tool_results],
                order_id=order_id,
                order_id_pattern=self.order_id_pattern,
            )
        except Exception as exc:  # noqa: BLE001 - never lose the answer to a checker's fault
            return Review(False, text=text, failure=f"{type(exc).__name__}: {exc}"[:200])
        unsupported = tuple(dict.fromkeys(c.text for c in verdict.unsupported))
        review = Review(verdict.verified, unsupported, text)
        if not verdict.verified and self.policy == CheckPolicy.REPLACE and self.rebuild:
            rebuilt = self.rebuild(agent, tool_results if rebuild_from is None else rebuild_from)
            review = Review(False, unsupported, rebuilt, replaced=True)
        if record is not None:
            record(
                "answer.check",
                {
                    "agent": agent,
                    "policy": self.policy.value,
                    "verified": verdict.verified,
                    "claims": [f"{c.kind}: {c.text}" for c in verdict.claims],
                    "unsupported": [f"{c.kind}: {c.text}" for c in verdict.unsupported],
                    "replaced": review.replaced,
                },
            )
        return review
