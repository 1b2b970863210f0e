"""The built-in offline model: a deterministic, rule-based LiteLLM custom provider.

It is a stand-in for an LLM, not one. It sees exactly what a real model sees through
LiteLLM (the system instruction, the tool schemas and the conversation) and never imports
the backends: every fact it states comes from a tool result in the conversation.

Its rules, in order, for each call:

1. **Transfer.** If it is offered ``transfer_to_agent`` and the question's words match another
   agent's description (from ADK's transfer instructions) better than its own, it transfers.
   A coordinator with nothing else to do asks the user to pick a topic.
2. **Call tools.** Each offered tool is called at most once per user turn, when all its required
   arguments can be filled: from id-like tokens in the question (``ORD-1001`` fills a
   parameter whose name starts like ``ord``…, ``SKU-KBD-07`` fills ``sku``), else from values
   under the same key in earlier tool results (the SKUs of an order, say). All callable tools
   go out together as parallel tool calls.
3. **Answer.** The answer is phrased from the tool results with the agent's answer format:
   the same lines its instruction shows a real model, handed to this provider as data when
   it is registered (by agent name; ADK's instruction says which agent is asking). A line
   such as ``Status: {order_status} | Placed: {placed_date}`` is filled from the results; a
   line for one kind of record (``when low_stock``) is used for records in that state.
   ``{field:.2f}`` formats a number and ``{field:long}`` spells a date out. Lines are joined
   with newlines, or with spaces for a one-paragraph format. Error results are relayed as
   they are; an agent without a format gets the facts stated plainly.

Token usage is estimated (about four characters a token) so budgets and traces have figures.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import litellm
import re2
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse

PROVIDER = "offline"
LATENCY_PARAM = "offline_latency_s"  # a model's LiteLLM parameter: seconds to wait per call
ORDER_ID_PARAM = "offline_order_id_pattern"  # ORDER_ID_PATTERN, when one is configured
# The configured order-id pattern for the decision being made (set by ``decide``), on RE2 as
# everywhere (linear time: someone's pattern must not hang a model call).
_ORDER_IDS: ContextVar[Any] = ContextVar("offline_order_ids", default=None)
_TRIM = ".,;:!?()[]\"'"
# The longest an order id may be (``order_ids.MAX_ID_CHARS``; not imported: this model knows
# nothing of the package, only what a real model is told).
_MAX_ID_CHARS = 64
TRANSFER_TOOL = "transfer_to_agent"
# ADK relays other agents' turns as user messages that start like this; they are not questions.
_CONTEXT_PREFIX = "For context:"
_MAX_FANOUT = 10  # calls of one tool per step, however many values earlier results offer
_ID_TOKEN = re.compile(r"\b[A-Za-z]{2,}-[A-Za-z0-9-]*[0-9][A-Za-z0-9-]*\b", re.ASCII)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]+))?\}")
_AGENT_BLOCK = re.compile(r"Agent name:\s*(\S+)\s*\nAgent description:\s*(.*)")
_SELF_NAME = re.compile(r'Your internal name is "([^"]+)"')
_SELF_DESCRIPTION = re.compile(r'The description about you is "([^"]*)"')
_PARENT = re.compile(r"transfer to your parent agent (\w+)")
_WORD = re.compile(r"[a-z]+")
_STOPWORDS = frozenset(
    "a about also an and any are as at be been but by can could do does did for from get had has "
    "have how i if in just know much "
    "is it its me my now of on or our please should so still tell than thanks that the their them "
    "then there these this to us want was we were what when which who why will with would "
    "yet you your".split()
)


class AnswerLine(Protocol):
    template: str
    when: str | None


class AnswerFormat(Protocol):
    """An agent's answer format (``specialists.AnswerFormat``: passed in, not imported)."""

    lines: Sequence[AnswerLine]
    paragraph: bool


# --- Reading the request -------------------------------------------------------------------


def _text_of(content: Any) -> str:
    """Message content as text: LiteLLM passes a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    properties: tuple[str, ...]
    required: frozenset[str]
    enum: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _tool_specs(tools: Iterable[Mapping[str, Any]] | None) -> list[ToolSpec]:
    specs = []
    for tool in tools or ():
        fn = tool.get("function", tool)
        params = fn.get("parameters") or {}
        props = params.get("properties") or {}
        specs.append(
            ToolSpec(
                name=fn["name"],
                properties=tuple(props),
                required=frozenset(params.get("required") or ()),
                enum={k: tuple(v["enum"]) for k, v in props.items() if v.get("enum")},
            )
        )
    return specs


@dataclass
class Conversation:
    """What the model can know: instruction, questions, and this turn's tool calls/results."""

    system: str
    questions: list[str]  # user questions, oldest first
    turn_calls: list[tuple[str, dict[str, Any]]]  # (tool name, args) since the last question
    turn_results: list[tuple[str, Any]]  # (tool name, parsed result) since the last question

    @classmethod
    def parse(cls, messages: Sequence[Mapping[str, Any]]) -> Conversation:
        system_parts: list[str] = []
        questions: list[str] = []
        calls: list[tuple[str, dict[str, Any]]] = []
        results: list[tuple[str, Any]] = []
        names_by_id: dict[str, str] = {}
        for message in messages:
            role = message.get("role")
            text = _text_of(message.get("content"))
            if role == "system":
                system_parts.append(text)
            elif role == "user":
                if text.strip() and not text.lstrip().startswith(_CONTEXT_PREFIX):
                    questions.append(text)
                    calls, results = [], []
            elif role == "assistant":
                for call in message.get("tool_calls") or ():
                    fn = call.get("function") or {}
                    try:
                        args = json.loads(fn.get("arguments") or "{}")
                    except json.JSONDecodeError:
                        args = {}
                    names_by_id[call.get("id", "")] = fn.get("name", "")
                    calls.append((fn.get("name", ""), args))
            elif role == "tool":
                name = message.get("name") or names_by_id.get(message.get("tool_call_id", ""), "")
                try:
                    result = json.loads(text)
                except json.JSONDecodeError:
                    result = text
                results.append((name, result))
        return cls("\n".join(system_parts), questions, calls, results)


# --- Deciding ------------------------------------------------------------------------------


def _stems(text: str) -> set[str]:
    # Five-letter stems make "shipped"/"shipping" and "deliver"/"delivery" meet.
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS}


def _id_tokens(texts: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    configured = _ORDER_IDS.get()
    for text in texts:
        for token in _ID_TOKEN.findall(text):
            seen.setdefault(token.upper(), None)
        if configured is not None:  # ids of the configured form, kept as written
            for word in text.split():
                # At most an id's length reaches the pattern, as everywhere else.
                if len(word) <= _MAX_ID_CHARS + 2 and configured.fullmatch(word.strip(_TRIM)):
                    seen.setdefault(word.strip(_TRIM), None)
    return list(seen)


def _ids_for(param: str, convo: Conversation, *, inherit: bool) -> list[str]:
    """Ids from the latest question that fit ``param``; with ``inherit``, a question that
    names none takes them from the newest earlier question that does ("Has it been paid?")."""
    for question in reversed(convo.questions):
        fitting = [t for t in _id_tokens([question]) if _token_fits(t, param)]
        if fitting or not inherit:
            return fitting
    return []


def _token_fits(token: str, param: str) -> bool:
    """``ORD-1001`` fits ``order_id``; ``SKU-KBD-07`` fits ``sku``: prefix against name words.
    An id of the configured form fits ``order_id``."""
    configured = _ORDER_IDS.get()
    if configured is not None and configured.fullmatch(token):
        return param == "order_id"
    prefix = token.split("-", 1)[0].lower()
    return any(
        word.startswith(prefix) or prefix.startswith(word)
        for word in param.lower().split("_")
        if len(word) >= 3
    )


def _values_under(data: Any, key: str) -> list[Any]:
    """Every scalar stored under ``key`` anywhere in a tool result, in order."""
    found: list[Any] = []
    if isinstance(data, Mapping):
        for k, v in data.items():
            if k == key and isinstance(v, (str, int, float)) and v != "":
                found.append(v)
            else:
                found.extend(_values_under(v, key))
    elif isinstance(data, list):
        for item in data:
            found.extend(_values_under(item, key))
    return found


def _plan_calls(specs: list[ToolSpec], convo: Conversation) -> list[tuple[str, dict[str, Any]]]:
    """Tool calls for this step: each not-yet-called tool whose required arguments fill."""
    called = {name for name, _ in convo.turn_calls}
    planned: list[tuple[str, dict[str, Any]]] = []
    for spec in specs:
        if spec.name in called or spec.name == TRANSFER_TOOL:
            continue
        choices: dict[str, list[Any]] = {}
        for param in spec.properties:
            # Only a required argument is carried over from an earlier question.
            from_question = _ids_for(param, convo, inherit=param in spec.required)
            from_results = []
            for _, result in convo.turn_results:
                for value in _values_under(result, param):
                    if value not in from_results:
                        from_results.append(value)
            if from_question or from_results:
                # One call per value (two orders asked about, each SKU of an order), bounded.
                choices[param] = (from_question or from_results)[:_MAX_FANOUT]
        if not spec.required <= set(choices) or (spec.properties and not choices):
            continue  # a call with nothing to look up would only return an error
        fanout = [{}]
        for param, values in choices.items():
            fanout = [{**args, param: value} for args in fanout for value in values]
        planned.extend((spec.name, args) for args in fanout)
    return planned


def _missing_argument(specs: list[ToolSpec]) -> str | None:
    """What to ask the user for: a required argument, else any of the parameters."""
    for spec in specs:
        wanted = sorted(spec.required) or list(spec.properties)
        if wanted:
            return " or ".join(p.replace("_", " ") for p in wanted)
    return None


def _targets(spec: ToolSpec, system: str) -> dict[str, str]:
    """Transfer targets (the tool's enum) with their descriptions from ADK's instructions."""
    described = dict(_AGENT_BLOCK.findall(system))
    names = spec.enum.get("agent_name") or tuple(described)
    return {name: described.get(name, name.replace("_", " ")) for name in names}


def _choose_transfer(spec: ToolSpec, system: str, question: str) -> str | None:
    """The agent to transfer to, if another agent's description fits the question better."""
    asked = _stems(question)
    own = _SELF_DESCRIPTION.search(system)
    best, best_score = None, len(asked & _stems(own.group(1))) if own else 0
    for name, description in _targets(spec, system).items():
        score = len(asked & _stems(description))
        if score > best_score:
            best, best_score = name, score
    return best


def _generalist(spec: ToolSpec, system: str) -> str | None:
    """The target whose description says it covers everything about a subject."""
    return next((n for n, d in _targets(spec, system).items() if "every" in _stems(d)), None)


def _fits_me(system: str, convo: Conversation) -> bool:
    """Whether the latest question is this agent's: it names an id, touches the agent's own
    description, or is a bare follow-up ("Where is it?") to an earlier question."""
    question = convo.questions[-1] if convo.questions else ""
    own = _SELF_DESCRIPTION.search(system)
    asked = _stems(question)
    return (
        not own
        or bool(_id_tokens([question]))
        or bool(asked & _stems(own.group(1)))
        or (not asked and len(convo.questions) > 1)
    )


# --- Phrasing ------------------------------------------------------------------------------


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _format(value: Any, spec: str | None) -> str:
    if spec == "long":
        when = date.fromisoformat(str(value))
        return f"{when:%B} {_ordinal(when.day)}"
    if spec == "count":
        return str(len(value))
    if spec:
        return format(float(value), spec)
    return str(value)


def _fill(template: str, lookup: Mapping[str, Any]) -> str | None:
    """The template with every placeholder filled, or None if one has no usable value."""
    out: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        value = lookup.get(match.group(1))
        if value is None:
            return None
        try:
            out.append(template[last : match.start()] + _format(value, match.group(2)))
        except (TypeError, ValueError):
            return None
        last = match.end()
    return "".join(out) + template[last:]


def _records(result: Any) -> list[dict[str, Any]]:
    """A result and each record nested in its lists, as flat scalar maps (parents fill gaps)."""
    if not isinstance(result, Mapping):
        return []
    scalars = {k: v for k, v in result.items() if not isinstance(v, (Mapping, list))}
    records = [scalars]
    for value in result.values():
        for item in value if isinstance(value, list) else ():
            for nested in _records(item):
                records.append({**scalars, **nested})
    return records


def compose_answer(answer: AnswerFormat | None, results: Sequence[tuple[str, Any]]) -> str:
    """The answer from tool results alone, ``(tool name, result)`` pairs, in ``answer``'s
    format: this model's answers, and the one ``ANSWER_CHECK=replace`` puts in place of an
    answer that stated what no tool returned."""
    templates = [(line.when, line.template) for line in answer.lines] if answer else []
    ok = [r for _, r in results if isinstance(r, Mapping) and r.get("status") != "error"]
    errors = [
        str(r.get("error_message") or "The lookup failed.")
        for _, r in results
        if isinstance(r, Mapping) and r.get("status") == "error"
    ]
    merged: dict[str, Any] = {}
    for result in ok:
        for key, value in _records(result)[0].items():
            if value is not None:
                merged.setdefault(key, value)
    lines: list[str] = []

    def add(line: str | None) -> None:
        if line and line not in lines:
            lines.append(line)

    for label, template in templates:
        if not label:
            # Once per result (two orders asked about give two lines), else from all together.
            filled = [_fill(template, {**merged, **_records(r)[0]}) for r in ok]
            for line in filled if any(filled) else [_fill(template, merged)]:
                add(line)
    for result in ok:
        for record in _records(result):
            labels = {str(v).lower() for v in record.values() if isinstance(v, str)}
            for label, template in templates:
                if label and label.lower() in labels:
                    add(_fill(template, {**merged, **record}))
                    break
    if not lines:
        lines = list(dict.fromkeys(errors))
    if not lines and ok:
        # No template fits: state the facts plainly rather than invent a sentence.
        lines = [" | ".join(f"{k}: {v}" for k, v in merged.items() if k != "status")]
    if not lines:
        return "I could not find anything to report."
    joiner = " " if answer and answer.paragraph else "\n"
    return joiner.join(lines)


# --- The decision --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One model turn: either text or tool calls."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()


@functools.lru_cache(maxsize=8)
def _re2(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def decide(
    messages: Sequence[Mapping[str, Any]],
    tools: Iterable[Mapping[str, Any]] | None,
    answer_formats: Mapping[str, AnswerFormat] | None = None,
    order_id_pattern: str | None = None,
) -> Reply:
    """The offline model's whole policy: pure, deterministic, no I/O. ``answer_formats``
    holds each agent's answer format by agent name; ``order_id_pattern`` the configured
    ``ORDER_ID_PATTERN``, if any."""
    token = _ORDER_IDS.set(_re2(order_id_pattern) if order_id_pattern else None)
    try:
        return _decide(messages, tools, answer_formats)
    finally:
        _ORDER_IDS.reset(token)


def _decide(
    messages: Sequence[Mapping[str, Any]],
    tools: Iterable[Mapping[str, Any]] | None,
    answer_formats: Mapping[str, AnswerFormat] | None,
) -> Reply:
    convo = Conversation.parse(messages)
    specs = _tool_specs(tools)
    question = convo.questions[-1] if convo.questions else ""
    transfer = next((s for s in specs if s.name == TRANSFER_TOOL), None)
    domain_tools = [s for s in specs if s.name != TRANSFER_TOOL]

    if transfer and not convo.turn_calls:
        target = _choose_transfer(transfer, convo.system, question)
        if target is None and domain_tools and not _fits_me(convo.system, convo):
            # A specialist asked something outside its field hands back to its parent.
            parent = _PARENT.search(convo.system)
            target = parent.group(1) if parent else None
        if target is None and not domain_tools and _id_tokens([question]):
            # An id but no topic ("ORD-1001?"): a coordinator asks the generalist.
            target = _generalist(transfer, convo.system)
        if target:
            return Reply(tool_calls=((TRANSFER_TOOL, {"agent_name": target}),))
    planned = _plan_calls(domain_tools, convo)
    if planned:
        return Reply(tool_calls=tuple(planned))
    if convo.turn_results:
        me = _SELF_NAME.search(convo.system)
        answer = (answer_formats or {}).get(me.group(1)) if me else None
        return Reply(text=compose_answer(answer, convo.turn_results))
    if domain_tools:
        missing = _missing_argument(domain_tools)
        return Reply(text=f"Please tell me the {missing}." if missing else "How can I help?")
    described = _AGENT_BLOCK.findall(convo.system)
    if described:
        # Each description's lead-in ("Shipping: ...") names its topic.
        topics = [re.split(r"[:,.]", d, maxsplit=1)[0].strip().lower() for _, d in described]
        listed = ", ".join(topics[:-1]) + f" and {topics[-1]}" if len(topics) > 1 else topics[0]
        return Reply(text=f"I can help with {listed}. What would you like to know?")
    return Reply(text="How can I help?")


# --- The LiteLLM provider ------------------------------------------------------------------


def _estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _usage(messages: Sequence[Mapping[str, Any]], tools: Any, reply: Reply) -> dict[str, int]:
    prompt = sum(
        _estimate_tokens(_text_of(m.get("content")) or json.dumps(m.get("tool_calls") or ""))
        for m in messages
    )
    prompt += _estimate_tokens(json.dumps(tools)) if tools else 0
    completion = _estimate_tokens(reply.text or json.dumps(reply.tool_calls))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


class OfflineModel(CustomLLM):
    """LiteLLM custom provider ``offline/...`` backed by :func:`decide`.

    ``answer_formats`` are the agents' answer formats by name. A model may ask for an
    artificial delay per call, for demos and benchmarks: ``offline_latency_s`` among its
    LiteLLM parameters (``OFFLINE_MODEL_LATENCY_S``, see ``gateway.py``).
    """

    def __init__(self, answer_formats: Mapping[str, AnswerFormat] | None = None) -> None:
        super().__init__()
        self.answer_formats = dict(answer_formats or {})

    async def respond(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        optional_params: dict[str, Any],
        api_base: str | None = None,
    ) -> ModelResponse:
        """One inference: the unit that tracing records as an inference span."""
        latency_s = optional_params.get(LATENCY_PARAM)
        if latency_s:
            await asyncio.sleep(latency_s)
        tools = optional_params.get("tools")
        reply = decide(messages, tools, self.answer_formats, optional_params.get(ORDER_ID_PARAM))
        if reply.tool_calls:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": _call_id(),
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args)},
                    }
                    for name, args in reply.tool_calls
                ],
            }
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": reply.text}
            finish = "stop"
        return ModelResponse(
            model=f"{PROVIDER}/{model}",
            created=int(time.time()),
            choices=[{"index": 0, "message": message, "finish_reason": finish}],
            usage=_usage(messages, tools, reply),
        )

    async def acompletion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        print_verbose: Any,
        encoding: Any,
        api_key: Any,
        logging_obj: Any,
        optional_params: dict,
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:  # noqa: E501 (LiteLLM's signature)
        return await self.respond(
            model=model, messages=messages, optional_params=optional_params, api_base=api_base
        )

    async def astreaming(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        print_verbose: Any,
        encoding: Any,
        api_key: Any,
        logging_obj: Any,
        optional_params: dict,
        *args: Any,
        **kwargs: Any,
    ) -> AsyncIterator[GenericStreamingChunk]:  # noqa: E501
        response = await self.respond(
            model=model, messages=messages, optional_params=optional_params, api_base=api_base
        )
        choice = response.choices[0]
        usage = response.usage
        for index, call in enumerate(choice.message.tool_calls or ()):
            yield GenericStreamingChunk(
                text="",
                tool_use={
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                    "index": index,
                },
                is_finished=False,
                finish_reason="",
                usage=None,
                index=0,
            )
        # Text goes out a few words at a time, like a real stream.
        words = re.findall(r"\S+\s*", choice.message.content or "")
        for start in range(0, len(words), 4):
            yield GenericStreamingChunk(
                text="".join(words[start : start + 4]),
                tool_use=None,
                is_finished=False,
                finish_reason="",
                usage=None,
                index=0,
            )
        yield GenericStreamingChunk(
            text="",
            tool_use=None,
            is_finished=True,
            finish_reason=choice.finish_reason,
            usage={
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
            index=0,
        )


def register(answer_formats: Mapping[str, AnswerFormat] | None = None) -> OfflineModel:
    """Install the provider in LiteLLM, replacing an earlier registration; returns it."""
    handler = OfflineModel(answer_formats)
    litellm.custom_provider_map = [
        entry for entry in litellm.custom_provider_map if entry.get("provider") != PROVIDER
    ] + [{"provider": PROVIDER, "custom_handler": handler}]
    return handler
