"""A circuit breaker per model, shared by every agent and order in the process: a provider
that keeps failing is not called again until a cooldown has passed and one trial call
succeeded.

A circuit is for provider outages (connection errors, timeouts, 5xx, 429): what makes every
call fail, whoever makes it. A malformed answer (empty, arguments that are not JSON, cut off)
is one prompt's bad answer from a provider that is up: it is retried and degraded per agent,
and counts as the provider answering, so a weak model never shuts out the agents and orders
it would answer well.

``Breakers`` is an attempt guard (see ``_model.py``): it admits or refuses each attempt and
learns from how the attempt ended.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from ._classify import MalformedResponseError, is_outage


class Refused(Exception):
    """An attempt on one model was refused before the provider was contacted; the chain
    moves on to the next model."""


class CircuitOpenError(Refused):
    """The model's circuit is open: the call was refused without contacting the provider."""


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Ticket:
    """A call's admission: which period of the breaker it started in, and whether it is the
    half-open trial. Only a ticket from the current period can move the breaker."""

    period: int
    trial: bool = False


@dataclass
class CircuitBreaker:
    """Consecutive-failure breaker for one model.

    Closed: calls pass; ``threshold`` failures in a row open it. Open: calls fail fast for
    ``cooldown_s``. Half-open: exactly one trial call is let through (concurrent callers are
    refused meanwhile); its success closes the circuit, its failure reopens it. Verdicts of
    calls admitted before the last change of state are ignored: they say nothing new.
    """

    name: str
    threshold: int = 5
    cooldown_s: float = 30.0
    on_change: Callable[[str, str, str], None] | None = None
    clock: Callable[[], float] = time.monotonic
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    period: int = 0  # bumped on every change of state
    _trial_in_flight: bool = False

    def before_call(self) -> Ticket:
        if self.state == CircuitState.OPEN:
            if self.clock() - self.opened_at < self.cooldown_s:
                raise CircuitOpenError(f"circuit for {self.name} is open")
            self._set(CircuitState.HALF_OPEN)
        if self.state == CircuitState.HALF_OPEN:
            if self._trial_in_flight:
                raise CircuitOpenError(f"circuit for {self.name} is half-open, trial in flight")
            self._trial_in_flight = True
            return Ticket(self.period, trial=True)
        return Ticket(self.period)

    def record_success(self, ticket: Ticket) -> None:
        if ticket.period != self.period:
            return
        if ticket.trial:
            self._trial_in_flight = False
            self._set(CircuitState.CLOSED)
        self.failures = 0

    def record_failure(self, ticket: Ticket) -> None:
        if ticket.period != self.period:
            return  # e.g. a call admitted while closed, failing after the circuit opened
        if ticket.trial:
            self._trial_in_flight = False
        self.failures += 1
        if ticket.trial or self.failures >= self.threshold:
            self.opened_at = self.clock()
            self._set(CircuitState.OPEN)

    def release(self, ticket: Ticket) -> None:
        """The call ended without a verdict (cancelled, or a bad request): if it was the trial,
        let another trial through."""
        if ticket.trial and ticket.period == self.period:
            self._trial_in_flight = False

    def _set(self, state: CircuitState) -> None:
        old, self.state = self.state, state
        self.period += 1
        if state == CircuitState.CLOSED:
            self.failures = 0
        if self.on_change:
            self.on_change(self.name, old.value, state.value)


@dataclass
class Breakers:
    """One breaker per model name, shared by every agent and order in the process."""

    threshold: int = 5
    cooldown_s: float = 30.0
    on_change: Callable[[str, str, str], None] | None = None
    clock: Callable[[], float] = time.monotonic  # what the cool-down is measured on
    _by_model: dict[str, CircuitBreaker] = field(default_factory=dict)

    def states(self) -> dict[str, CircuitState]:
        """Each breaker's state, by name (what the metrics report)."""
        return {name: breaker.state for name, breaker in list(self._by_model.items())}

    def for_model(self, model: str) -> CircuitBreaker:
        if model not in self._by_model:
            self._by_model[model] = CircuitBreaker(
                model, self.threshold, self.cooldown_s, self.on_change, self.clock
            )
        return self._by_model[model]

    @asynccontextmanager
    async def attempt(self, model: str) -> AsyncIterator[None]:
        """Guard one attempt on ``model``: refused while its circuit is open; an outage
        counts against it, an answer (a malformed one included: the provider is up) closes
        it. Checked on every attempt, so once the circuit opens, retries stop too."""
        breaker = self.for_model(model)
        ticket = breaker.before_call()
        verdict = False
        try:
            yield
            breaker.record_success(ticket)
            verdict = True
        except MalformedResponseError:
            breaker.record_success(ticket)  # the provider answered, if badly
            verdict = True
            raise
        except Exception as exc:
            if is_outage(exc):  # a bad request says nothing about the provider
                breaker.record_failure(ticket)
                verdict = True
            raise
        finally:
            # Cancelled, closed by ADK while paused at a yield, refused by the budget: no
            # verdict, but a trial call must not stay "in flight".
            if not verdict:
                breaker.release(ticket)
