"""The answer check in ``adk web`` and ``adk api_server`` chats: an ADK plugin that reviews each
agent's final answer against every tool result of the conversation so far about the order
(or SKUs) last asked about (a follow-up may restate an earlier turn's facts; a specialist must
have looked that order up in this turn), before the answer is stored or shown. ``flag`` puts the
``UNVERIFIED: …`` line above it, ``replace`` puts the answer from the tool results of the turn in
its place under a ``DEGRADED: …`` line; each verdict is an ``answer.check`` trace event.

The chat is a way out too: whatever an agent says there (checked, flagged or not) has its text
redacted (``core/outbound.py``) before it is stored or shown, as in the report, ``--json`` and
``serve``: a model or a system that echoes a key gets ``[REDACTED]`` shown."""

from __future__ import annotations

from typing import Any

from google.adk.events import Event
from google.adk.plugins.base_plugin import BasePlugin
from google.genai import types

from ..core import outbound
from ..tracing.setup import trace_event
from .policy import AnswerCheck, CheckPolicy, ToolResult

__all__ = ["AnswerCheckPlugin"]


def _text(content: Any) -> str:
    parts = getattr(content, "parts", None) or []
    return "".join(p.text for p in parts if p.text and not getattr(p, "thought", False))


class AnswerCheckPlugin(BasePlugin):
    def __init__(self, check: AnswerCheck) -> None:
        super().__init__(name="answer_check")
        self.check = check

    async def on_event_callback(self, *, invocation_context: Any, event: Event) -> Event | None:
        checked = await self._checked(invocation_context, event)
        return _redacted(checked or event) or checked

    async def _checked(self, invocation_context: Any, event: Event) -> Event | None:
        if (
            self.check.policy == CheckPolicy.OFF
            or event.author == "user"
            or event.partial
            or not event.is_final_response()
            or not _text(event.content).strip()
        ):
            return None
        results: list[ToolResult] = []
        arguments: list[dict[str, Any]] = []
        asked_with: dict[str, dict[str, Any]] = {}
        turn_start = 0  # where this invocation's results begin (for a replacement)
        subject: tuple[str | None, tuple[str, ...]] | None = None
        for earlier in invocation_context.session.events:
            if earlier.invocation_id != invocation_context.invocation_id:
                turn_start = len(results) + len(earlier.get_function_responses())
            for call in earlier.get_function_calls():
                asked_with[call.id or ""] = dict(call.args or {})
            for response in earlier.get_function_responses():
                results.append((response.name or "", response.response))
                arguments.append(asked_with.get(response.id or "", {}))
            if earlier.author == "user":
                subject = self.check.asked(_text(earlier.content)) or subject
        order_id, skus = subject or (None, ())
        text = _text(event.content).strip()
        review = await self.check.review_within(
            None,
            event.author,
            text,
            results,
            order_id=order_id,
            skus=skus,
            arguments=arguments,
            this_turn=turn_start,
            record=trace_event,
            rebuild_from=results[turn_start:],
        )
        if review.verified is not False:
            return None
        if review.replaced:
            shown = f"DEGRADED: the model's answer {review.reason}; answered from tool results "
            shown += f"alone\n\n{review.text}"
        else:
            shown = f"UNVERIFIED: {review.reason}\n\n{text}"
        return event.model_copy(
            update={"content": types.Content(role="model", parts=[types.Part(text=shown)])}
        )


def _redacted(event: Event) -> Event | None:
    """``event`` with its text parts redacted, or ``None`` when it has nothing to redact."""
    if event.author == "user" or event.content is None or not event.content.parts:
        return None
    parts = [
        p.model_copy(update={"text": outbound.public(p.text)}) if p.text else p
        for p in event.content.parts
    ]
    if all(new.text == old.text for new, old in zip(parts, event.content.parts, strict=True)):
        return None
    return event.model_copy(update={"content": event.content.model_copy(update={"parts": parts})})
