"""What happens to an answer that states what no tool returned: ``ANSWER_CHECK``.

``flag`` (the default) keeps the answer and marks it unverified, with the claims no tool
result supports; ``replace`` puts the answer built from the tool results alone in its place
(what an agent says when every model has failed); ``off`` checks nothing. The check itself
is ``check.check_answer``; this module applies a policy to its verdict and records the
verdict in the trace (an ``answer.check`` event on the agent's span).

A specialist (order status, shipping, inventory, payment, support) must have called a tool
for the order it was asked about: an answer with no such lookup is not verified, whatever it
says. The support agent summarises three tools and is held to the same rule, at least one
lookup for the asked order (a sentence about a system it did not ask states claims no result
supports, and is caught as such; which tools it should have called is eval's trajectory).

``review_within`` runs the check off the event loop, within the time the run has left: a
check that cannot finish in time is a failed check (recorded, the answer kept, unverified).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..agents.specialists import SPECIALIST_NAMES
from ..core.redaction import redact
from ..core.settings import CheckPolicy
from .check import Verdict, check_answer
from .claims import MAX_CLAIMS
from .fold import MAX_CHECKED_CHARS, fold
from .ids import OrderIdFinder, UnusablePattern
from .patterns import SKU

__all__ = ["AnswerCheck", "CheckPolicy", "Rebuild", "Review", "ToolResult", "UnusablePattern"]

# (tool name, what it returned), in the order the tools answered.
ToolResult = tuple[str, Any]
# The answer an agent gives from tool results alone: (agent name, tool results) -> text.
Rebuild = Callable[[str, Sequence[ToolResult]], str]
Record = Callable[[str, dict[str, Any]], None]
_SHOWN_CLAIMS = 5  # unsupported claims named in a one-line reason; all are in the result


@dataclass(frozen=True)
class Review:
    """An answer after the check. ``verified`` is None when nothing was checked (policy off);
    ``unsupported`` holds the claims as written; ``text`` is the answer to show (the rebuilt
    one when ``replaced``); ``no_lookup``: the order no tool was called for; ``cut``: only
    the first part of the answer was checked."""

    verified: bool | None
    unsupported: tuple[str, ...] = ()
    text: str = ""
    replaced: bool = False
    failure: str | None = None  # why the answer could not be checked at all
    no_lookup: str | None = None
    cut: bool = False

    @property
    def reason(self) -> str:
        """One line for the report: why the answer is not verified."""
        if self.failure:
            return f"could not be checked ({self.failure})"
        parts = []
        if self.no_lookup:
            parts.append(f"called no tool for {self.no_lookup}")
        if self.unsupported:
            shown = ", ".join(self.unsupported[:_SHOWN_CLAIMS])
            more = len(self.unsupported) - _SHOWN_CLAIMS
            if more > 0:
                shown += f" and {more} more"
            parts.append(f"states what no tool returned: {shown}")
        if self.cut:
            parts.append(
                f"is longer than the check reads ({MAX_CHECKED_CHARS} characters, "
                f"{MAX_CLAIMS} claims): the rest is unchecked"
            )
        return "; ".join(parts)


@dataclass(frozen=True)
class AnswerCheck:
    """The policy every answer goes through. ``order_id_pattern``: the configured
    ``ORDER_ID_PATTERN`` as written (``None``: ``ORD-`` and digits), run by a linear-time
    engine (``UnusablePattern`` if it cannot be); ``rebuild``: the answer from tool results
    alone, for ``replace`` (without one, ``replace`` flags)."""

    policy: CheckPolicy = CheckPolicy.FLAG
    order_id_pattern: str | None = None
    rebuild: Rebuild | None = None
    ids: OrderIdFinder = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", OrderIdFinder(self.order_id_pattern))

    def asked(self, question: str) -> tuple[str | None, tuple[str, ...]] | None:
        """The order id (the last one written) and the SKUs a question names; None when it
        names neither (a follow-up: the conversation's subject stays)."""
        ids = self.ids.in_text(question)
        folded = fold(question)
        skus = tuple(m.group().decode("latin-1").upper() for m in SKU.finditer(folded.data))
        if not ids and not skus:
            return None
        return (ids[-1] if ids else None), skus

    def verdict(
        self,
        agent: str,
        text: str,
        tool_results: Sequence[ToolResult],
        *,
        order_id: str | None = None,
        skus: Iterable[str] = (),
        arguments: Sequence[Mapping[str, Any]] | None = None,
        this_turn: int = 0,
    ) -> Verdict:
        """The check alone (no policy, no trace): pure, safe to run in a thread.
        ``this_turn``: where this turn's results begin in ``tool_results`` (a specialist
        must have looked the order up in this turn)."""
        # Claims are cut out of the answer and quoted (the reason, `unsupported_claims`, the
        # trace): a key the model echoed would leave as a fragment no net of the way out knows
        # ("sk-proj-" dropped), so the check reads the answer with secrets already redacted.
        return check_answer(
            redact(text),
            [result for _, result in tool_results],
            order_id=order_id,
            skus=skus,
            order_id_pattern=self.ids,
            arguments=arguments,
            needs_lookup=agent in SPECIALIST_NAMES,
            this_turn=_turn(tool_results, arguments, this_turn),
        )

    def review(self, agent: str, text: str, tool_results: Sequence[ToolResult], **asked: Any
               ) -> Review:  # fmt: skip
        """``text`` checked against ``tool_results`` (the results of the tools ``agent``
        called), for the order ``order_id`` (and SKUs ``skus``) asked about. Keywords:
        those of ``verdict``, and ``record(name, attributes)`` for the ``answer.check`` event
        (``tracing.trace_event``), ``rebuild_from`` for a replacement (default:
        ``tool_results``; a chat's turn, not its history)."""
        record, rebuild_from = asked.pop("record", None), asked.pop("rebuild_from", None)
        if self.policy == CheckPolicy.OFF:
            return Review(None, text=text)
        try:
            found: Verdict | str = self.verdict(agent, text, tool_results, **asked)
        except Exception as exc:  # noqa: BLE001 - never lose the answer to a checker's fault
            found = f"{type(exc).__name__}: {exc}"[:200]
        return self.apply(agent, text, tool_results, found, record, rebuild_from)

    async def review_within(
        self,
        seconds: float | None,
        agent: str,
        text: str,
        tool_results: Sequence[ToolResult],
        **asked: Any,
    ) -> Review:
        """``review``, the check run in a worker thread within ``seconds`` (None: no limit):
        the event loop is never blocked by it, and a check that does not finish in time is a
        failed check (the answer kept, unverified)."""
        record, rebuild_from = asked.pop("record", None), asked.pop("rebuild_from", None)
        if self.policy == CheckPolicy.OFF:
            return Review(None, text=text)
        work = asyncio.to_thread(self.verdict, agent, text, tool_results, **asked)
        try:
            found: Verdict | str = await asyncio.wait_for(
                work, None if seconds is None else max(0.0, seconds)
            )
        except TimeoutError:
            found = f"the check did not finish in the {max(0.0, seconds or 0.0):.2f}s left"
        except Exception as exc:  # noqa: BLE001 - never lose the answer to a checker's fault
            found = f"{type(exc).__name__}: {exc}"[:200]
        return self.apply(agent, text, tool_results, found, record, rebuild_from)

    def apply(
        self,
        agent: str,
        text: str,
        tool_results: Sequence[ToolResult],
        found: Verdict | str,
        record: Record | None = None,
        rebuild_from: Sequence[ToolResult] | None = None,
    ) -> Review:
        """The policy applied to a verdict (or to why there is none), recorded."""
        if isinstance(found, str):
            if record is not None:
                attributes = {"agent": agent, "policy": self.policy.value, "verified": False}
                record("answer.check", {**attributes, "failure": found})
            return Review(False, text=text, failure=found)
        unsupported = tuple(dict.fromkeys(c.text for c in found.unsupported))
        review = Review(found.verified, unsupported, text, no_lookup=found.no_lookup,
                        cut=found.cut)  # fmt: skip
        if not found.verified and self.policy == CheckPolicy.REPLACE and self.rebuild:
            rebuilt = self.rebuild(agent, tool_results if rebuild_from is None else rebuild_from)
            review = Review(False, unsupported, rebuilt, True, None, found.no_lookup, found.cut)
        if record is not None:
            record(
                "answer.check",
                {
                    "agent": agent,
                    "policy": self.policy.value,
                    "verified": found.verified,
                    "claims": [f"{c.kind}: {c.text}" for c in found.claims],
                    "unsupported": [f"{c.kind}: {c.text}" for c in found.unsupported],
                    "no_lookup": found.no_lookup,
                    "cut": found.cut,
                    "replaced": review.replaced,
                },
            )
        return review


def _turn(
    results: Sequence[ToolResult], arguments: Sequence[Mapping[str, Any]] | None, start: int
) -> list[Any] | None:
    """This turn's lookups, with their arguments (None: every result is this turn's)."""
    if not start:
        return None
    from .facts import lookups_of

    return lookups_of(results[start:], (arguments or [])[start:])
