"""What every ``track-order`` command shares: the bad-input error (exit 2), start-up, and
the option checks."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..composition import configure_process
from ..core.order_ids import InvalidOrderId, OrderIdPattern, OrderIds, source_name
from ..core.settings import DAY_S, ConfigError
from ..ops.lifecycle import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from ..core.settings import Settings

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_CONCURRENCY",
    "BadInput",
    "concurrency_option",
    "count",
    "host_option",
    "id_file_option",
    "insecure_option",
    "port_option",
    "read_order_ids",
    "settings",
    "timeout",
    "timeout_option",
    "verbose_option",
]

DEFAULT_CONCURRENCY = 10  # agent runs in flight across a batch: gentle on provider rate limits
MAX_CONCURRENCY = 10_000


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


def settings(verbose: bool = False, timeout_s: float | None = None) -> Settings:
    """Start-up common to every command; a bad setting is a one-line error (exit 2)."""
    try:
        settings = configure_process(logging_mode="verbose" if verbose else "quiet")
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    if timeout_s is not None:
        settings = dataclasses.replace(settings, agent_timeout_s=timeout_s)
    return settings


def read_order_ids(order_ids: tuple[str, ...], id_file: Any, pattern: OrderIdPattern) -> OrderIds:
    """The ids of the arguments and ``--file``, every one checked, at least one (else a
    one-line error, exit 2). Close it (or use ``with``)."""
    try:
        ids = OrderIds(order_ids, id_file, source_name(id_file), pattern)
    except InvalidOrderId as exc:
        raise BadInput(str(exc)) from None
    if not len(ids):
        ids.close()
        raise BadInput("give at least one order id (e.g. ORD-1001), or --file PATH")
    return ids


def timeout(ctx: Any, param: Any, value: float | None) -> float | None:
    """Seconds: finite, above 0, at most a day (the settings' own bounds)."""
    if value is None:
        return None
    option = param.opts[0]
    if not math.isfinite(value):
        raise BadInput(f"{option} must be a finite number, got {value:g}")
    if value <= 0:
        raise BadInput(f"{option} must be greater than 0, got {value:g}")
    if value > DAY_S:
        raise BadInput(f"{option} must be at most {DAY_S:g}, got {value:g}")
    return value


def count(high: int) -> Callable[[Any, Any, int], int]:
    """A whole number from 1 to ``high``."""

    def check(ctx: Any, param: Any, value: int) -> int:
        if value < 1:
            raise BadInput(f"--{param.name} must be at least 1, got {value}")
        if value > high:
            raise BadInput(f"--{param.name} must be at most {high}, got {value}")
        return value

    return check


def timeout_option(help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "--timeout",
        "timeout_s",
        type=float,
        default=None,
        callback=timeout,
        metavar="SECONDS",
        help=help_text,
    )


def concurrency_option(help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        callback=count(MAX_CONCURRENCY),
        help=help_text,
    )


verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also show the libraries' own warnings and errors."
)


insecure_option = click.option(
    "--insecure",
    is_flag=True,
    help="Serve beyond loopback without SERVICE_API_KEYS: anyone who can reach it reads every "
    "order.",
)


host_option = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on."
)


def port_option(default: int) -> Callable[[Any], Any]:
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=default,
        show_default=True,
        help="Port to listen on (0: any free port).",
    )


id_file_option = click.option(
    "--file",
    "id_file",
    type=click.File("rb"),
    default=None,
    metavar="PATH",
    help="Read order ids from PATH, one per line ('-' for stdin).",
)
