"""A hint for the operator when calls to a model keep timing out: what a slow model (a local
one on a few cores) does under the default timeouts and concurrency. Said once per model and
process, not per call.

The trigger is ``after`` calls in a row that timed out, none answered in between: every call
of a run on a model too slow for its timeout, and also the usual case with a local server
that answers one request at a time, where the first call of a burst is answered and the ones
queued behind it time out.

``TimeoutHint`` is an attempt guard (see ``_model.py``): it refuses nothing, it only watches
how each attempt ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ._breaker import Refused

# LiteLLM's own timeout (``litellm.Timeout``, the OpenAI SDK's ``APITimeoutError``) is not a
# ``TimeoutError``; ours (``ModelCallTimeout``) is.
_TIMEOUT_NAMES = frozenset({"Timeout", "APITimeoutError"})


def is_timeout(exc: BaseException) -> bool:
    """Whether an attempt ended because the model took too long."""
    return isinstance(exc, TimeoutError) or any(
        cls.__name__ in _TIMEOUT_NAMES for cls in type(exc).__mro__
    )


@dataclass
class TimeoutHint:
    """After ``after`` attempts in a row on one model that all timed out, ``say`` one line:
    which settings make a slow model usable. ``model_timeout_s`` is the configured
    ``MODEL_TIMEOUT_S``, quoted in the line."""

    say: Callable[[str], None]
    model_timeout_s: float | None = None
    after: int = 3
    _in_a_row: dict[str, int] = field(default_factory=dict)
    _told: set[str] = field(default_factory=set)

    def hint(self, model: str) -> str:
        now = f" (MODEL_TIMEOUT_S={self.model_timeout_s:g})" if self.model_timeout_s else ""
        return (
            f"{self.after} calls in a row to {model} timed out{now}: a slow model, such as a "
            "local one on a few cores, needs longer timeouts and fewer agent runs at once, "
            "e.g. MODEL_TIMEOUT_S=300 AGENT_TIMEOUT_S=900 and --concurrency 1 "
            "(see docs/local-model.md)"
        )

    @asynccontextmanager
    async def attempt(self, model: str) -> AsyncIterator[None]:
        try:
            yield
        except Refused:
            raise  # not called: says nothing about the model
        except Exception as exc:  # (a cancelled or abandoned attempt says nothing either)
            self._saw(model, timed_out=is_timeout(exc))
            raise
        else:
            self._saw(model, timed_out=False)

    def _saw(self, model: str, *, timed_out: bool) -> None:
        if model in self._told:
            return
        count = self._in_a_row.get(model, 0) + 1 if timed_out else 0
        self._in_a_row[model] = count
        if count >= self.after:
            self._told.add(model)
            self.say(self.hint(model))
