"""One environment variable of the settings table (``variables.py``): how the generic reader
parses it and how the Configuration page shows its default and range."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from .values import ConfigError, api_keys, number, sent_key, shown

__all__ = ["CheckPolicy", "Kind", "Variable"]


class CheckPolicy(StrEnum):
    """``ANSWER_CHECK``: what happens to an answer that states what no tool returned (see
    ``answers.policy``)."""

    FLAG = "flag"
    REPLACE = "replace"
    OFF = "off"


# "keys": keys a server of ours accepts; "key": a key we send (printable, no spaces).
Kind = Literal["int", "float", "text", "choice", "keys", "key"]


@dataclass(frozen=True)
class Variable:
    """One environment variable. ``kind`` says how the generic reader parses it (None: by
    code of its own, or by a library); ``field`` is the ``Settings`` field it fills."""

    name: str
    group: str
    meaning: str  # one line of Markdown: the Configuration page shows it as written
    default: Any = None  # the parsed value when unset or blank
    kind: Kind | None = None
    field: str | None = None
    low: float = 0
    high: float | None = None
    above_low: bool = False  # (low, high] rather than [low, high]
    choices: tuple[str, ...] = ()
    convert: Callable[[str], Any] | None = None  # applied to a checked text or choice
    shown_default: str | None = None  # for the page, when the default is not one value
    read_by: str | None = None  # a library that reads it (LiteLLM, OpenTelemetry, ADK)

    def read(self, env: Mapping[str, str]) -> Any:
        """The value ``env`` gives this variable, checked; a ``ConfigError`` naming it."""
        if self.kind in ("int", "float"):
            assert self.high is not None, self.name
            kind = int if self.kind == "int" else float
            return number(
                env,
                self.name,
                self.default,
                kind,
                low=self.low,
                high=self.high,
                above_low=self.above_low,
            )
        if self.kind == "keys":
            return api_keys(env.get(self.name, ""), self.name)
        if self.kind == "key":
            return sent_key(env.get(self.name, ""), self.name) or self.default
        raw = env.get(self.name, "").strip()
        if self.kind == "choice":
            raw = raw.lower() or self.default
            if raw not in self.choices:
                raise ConfigError(
                    f"{self.name} must be one of {', '.join(self.choices)}, got {shown(raw)}"
                )
        elif not raw:
            return self.default
        return self.convert(raw) if self.convert else raw

    @property
    def rule(self) -> str:
        """The range or choices, as the Configuration page writes them ("" when free)."""
        if self.choices:
            return " \\| ".join(f"`{c}`" for c in self.choices)
        if self.kind in ("int", "float") and self.high is not None:
            low = f"{_number(self.low)} <" if self.above_low else f"{_number(self.low)} ≤"
            whole = " (whole)" if self.kind == "int" else ""
            return f"{low} x ≤ {_number(self.high)}{whole}"
        return ""

    @property
    def shown(self) -> str:
        """The default, as the Configuration page writes it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.default in (None, (), ""):
            return "—"
        value = self.default.value if isinstance(self.default, StrEnum) else self.default
        return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
