"""What the shared stores have in common: saying once that a store cannot be reached (and
refusing meanwhile: they fail closed), and turning a store's figures into a verdict."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from ..logs import say
from ._rules import NANOS, WINDOWS, Limits, Refusal, Spent, blocked

__all__ = ["LOGGER", "RETRY_S", "Reach", "shown_url", "spent_of", "verdict"]

LOGGER = "order_tracking.spend"
RETRY_S = 5.0  # what a refusal tells a client while the store cannot be reached


def shown_url(url: str) -> str:
    """A store's address without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


class Reach:
    """Whether the store answers: said once when it stops, once when it answers again."""

    def __init__(self, where: str) -> None:
        self.where, self.down = where, False

    def failed(self, exc: BaseException) -> Refusal:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if not self.down:
            self.down = True
            say(
                f"spend limit store {self.where} cannot be reached ({reason}); model calls and "
                "new orders are refused until it answers (SPEND_LIMIT_STORE fails closed)",
                logging.WARNING,
                LOGGER,
            )
        return Refusal(
            f"the spend limit store {self.where} cannot be reached; nothing is taken until it "
            f"answers (retry in {RETRY_S:g}s)",
            RETRY_S,
        )

    def answered(self) -> None:
        if self.down:
            self.down = False
            say(f"spend limit store {self.where} answers again", logger=LOGGER)


def verdict(
    limits: Limits, now: float, need: tuple[int, int], used: list[tuple[int, int]], free: list
) -> list[tuple[float, str]]:
    """The full windows, as ``_rules.refusal`` wants them."""
    full = []
    for window, window_used, free_at in zip(WINDOWS, used, free, strict=True):
        reason = blocked(window, limits, window_used, need)
        if reason is not None:
            full.append((float(free_at), reason))
    return full


def spent_of(used: list[tuple[int, int]], held: tuple[int, int]) -> Spent:
    """The windows' spend as read, with what the step itself held."""
    (ht, hn), (dt, dn) = used
    return Spent(ht + held[0], (hn + held[1]) / NANOS, dt + held[0], (dn + held[1]) / NANOS)
