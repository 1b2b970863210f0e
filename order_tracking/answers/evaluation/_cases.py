"""Eval cases in ADK's eval-set JSON (``*.evalset.json``, what ``adk web`` saves and ``adk eval``
reads), read into plain data; the package's own sets; and a set written back.

Which agent a set is for is its ``eval_set_id``: a specialist's name (``shipping_agent``)
runs that specialist alone; anything else runs the ``adk web`` coordinator, as ``adk eval``
runs an app's root agent. A turn's ``intermediate_data`` lists the tool calls expected (with
their arguments); without it the tool trajectory of that turn is not scored, and without a
``final_response`` neither is the response match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ...agents.specialists import SPECIALIST_NAMES
from ...core.results import ToolCall, tool_call

__all__ = [
    "COORDINATOR",
    "MAX_SET_BYTES",
    "Case",
    "EvalFileError",
    "Turn",
    "dump_set",
    "load_set",
    "shipped_sets",
]

COORDINATOR = "coordinator"
MAX_SET_BYTES = 16 * 1024 * 1024  # an eval set is cases written by people, not a data dump
SHIPPED = "evalsets"  # the package's folder of sets


class EvalFileError(ValueError):
    """An eval-set file that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Turn:
    """One user message and what is expected of the answer (None: not scored)."""

    question: str
    expected_tools: tuple[ToolCall, ...] | None
    reference: str | None


@dataclass(frozen=True)
class Case:
    set_id: str
    case_id: str
    agent: str  # a specialist's name, or COORDINATOR
    turns: tuple[Turn, ...]


def _text(content: Any) -> str:
    parts = getattr(content, "parts", None) or []
    return "".join(p.text for p in parts if getattr(p, "text", None)).strip()


def load_set(path: Path) -> list[Case]:
    """The cases of one eval-set file, or ``EvalFileError``."""
    from google.adk.evaluation.eval_case import get_all_tool_calls
    from google.adk.evaluation.eval_set import EvalSet
    from pydantic import ValidationError

    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SET_BYTES + 1)
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_SET_BYTES:
        raise EvalFileError(f"{path}: larger than {MAX_SET_BYTES // 2**20} MiB")
    try:
        eval_set = EvalSet.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first.get("loc", ()))) or "the file"
        message = str(first.get("msg", "invalid")).splitlines()[0][:200]
        raise EvalFileError(f"{path}: not an ADK eval set ({where}: {message})") from None
    agent = eval_set.eval_set_id if eval_set.eval_set_id in SPECIALIST_NAMES else COORDINATOR
    cases = []
    for case in eval_set.eval_cases:
        if case.conversation is None:
            raise EvalFileError(
                f"{path}: case {case.eval_id!r} is a conversation scenario (a simulated "
                "user); only written conversations can be replayed"
            )
        turns = []
        for invocation in case.conversation:
            question = _text(invocation.user_content)
            if not question:
                raise EvalFileError(f"{path}: case {case.eval_id!r} has a turn with no text")
            expected = None
            if invocation.intermediate_data is not None:
                calls = get_all_tool_calls(invocation.intermediate_data)
                expected = tuple(tool_call(c.name, c.args) for c in calls)
            final = invocation.final_response
            turns.append(Turn(question, expected, _text(final) if final else None))
        if not turns:
            raise EvalFileError(f"{path}: case {case.eval_id!r} has no turns")
        cases.append(Case(eval_set.eval_set_id, case.eval_id, agent, tuple(turns)))
    if len({c.case_id for c in cases}) != len(cases):
        raise EvalFileError(f"{path}: two cases share an eval_id")
    return cases


def shipped_sets() -> list[Path]:
    """The package's eval sets: a set per specialist, and the coordinator's."""
    folder = Path(str(resources.files("order_tracking.answers") / SHIPPED))
    return sorted(folder.glob("*.evalset.json"))


def dump_set(set_id: str, description: str, cases: list[Case]) -> str:
    """An eval set as ADK writes it (camelCase), for ``cases`` whose turns are all filled in."""
    from google.adk.evaluation.eval_case import EvalCase, IntermediateData, Invocation
    from google.adk.evaluation.eval_set import EvalSet
    from google.genai import types

    def content(role: str, text: str) -> types.Content:
        return types.Content(role=role, parts=[types.Part(text=text)])

    eval_set = EvalSet(
        eval_set_id=set_id,
        name=set_id,
        description=description,
        eval_cases=[
            EvalCase(
                eval_id=case.case_id,
                conversation=[
                    Invocation(
                        invocation_id=f"{case.case_id}-{number}",
                        user_content=content("user", turn.question),
                        final_response=content("model", turn.reference or ""),
                        intermediate_data=IntermediateData(
                            tool_uses=[
                                types.FunctionCall(name=name, args=json.loads(args))
                                for name, args in turn.expected_tools or ()
                            ]
                        ),
                    )
                    for number, turn in enumerate(case.turns, start=1)
                ],
                session_input={"app_name": "order_tracking", "user_id": "eval", "state": {}},
            )
            for case in cases
        ],
    )
    return eval_set.model_dump_json(by_alias=True, exclude_none=True, indent=2) + "\n"
