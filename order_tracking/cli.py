"""``track-order ORD-1001``: ask all five specialists at once and print their answers.

Exit codes: 0 every agent answered, 1 some failed (their errors are shown), 2 bad input.
Input is checked before the heavy imports, so a typo fails fast and never reaches a model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from .async_runner import OrderReport

EXIT_OK, EXIT_AGENT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

_ORDER_ID = re.compile(r"ORD-[0-9]{1,12}", re.IGNORECASE)


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


def normalise_order_id(raw: str) -> str:
    """``ord-1001`` -> ``ORD-1001``; anything else that is not ``ORD-`` + digits is refused."""
    candidate = raw.strip()
    if not _ORDER_ID.fullmatch(candidate):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise BadInput(
            f"invalid order id {shown!r}: expected ORD- followed by digits, e.g. ORD-1001"
        )
    return candidate.upper()


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def render_report(report: OrderReport) -> str:
    """The article's Expected Output: header, one section per agent, timing, trace path.

    A section that is not a plain answer starts with its status in capitals (ERROR, TIMEOUT,
    BUDGET, CANCELLED, DEGRADED) and the reason; a degraded section still shows its answer.
    """
    lines = [f"=== Order Tracking Results for {report.order_id} ===", ""]
    for result in report.results:
        lines.append(f"[{result.agent}]")
        if not result.ok:
            lines.append(f"{result.status.upper()}: {result.error}")
        if result.text:
            lines.append(result.text)
        lines.append("")
    lines.append(
        f"Wall-clock time: {report.wall_s:.2f}s "
        f"(sequential estimate: ~{report.sequential_estimate_s:.1f}s)"
    )
    if report.trace_file is not None:
        lines.append(f"Traces written to: {_display_path(report.trace_file)}")
    else:
        lines.append("Traces written to: (no trace file was written)")
    return "\n".join(lines)


# Loggers of the libraries underneath. A failing agent is reported in its own section; their
# tracebacks for the same failure would bury the answer, so they are shown only with --verbose.
_LIBRARY_LOGGERS = (
    "google_adk",
    "LiteLLM",
    "LiteLLM Router",
    "LiteLLM Proxy",
    "monocle_apptrace",
    "opentelemetry",
    "order_tracking",
)


def _configure_logging(verbose: bool) -> None:
    if verbose:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _track_until_signalled(
    order_id: str, agents: Any, tracing: Any, limits: Any
) -> tuple[OrderReport, int | None]:
    """Run the order; SIGINT/SIGTERM stop it cleanly, keeping what finished.

    The first signal cancels the agents still running (their sections say CANCELLED) and the
    report and trace are still completed; a second one exits at once.
    """
    from .async_runner import track_order

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:
            os._exit(128 + signum)
        received.append(signum)
        stop.set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        report = await track_order(order_id, agents, tracing, limits=limits, stop=stop)
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
    return report, received[0] if received else None


def _run(order_id: str, verbose: bool, timeout_s: float | None) -> int:
    from .agent import AGENT_NAMES, announce_model_choice, build_order_agents, litellm_models
    from .async_runner import RunLimits, warm_up
    from .config import ConfigError, Settings, load_env_files
    from .redaction import install_log_redaction, register_secrets
    from .tracing import setup_tracing

    _configure_logging(verbose)
    load_env_files()
    register_secrets(os.environ)
    install_log_redaction()
    try:
        settings = Settings.from_env(agent_names=AGENT_NAMES)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    if timeout_s is not None:
        settings = dataclasses.replace(settings, agent_timeout_s=timeout_s)
    announce_model_choice(settings)
    asyncio.run(warm_up())
    tracing = setup_tracing(settings)
    agents = build_order_agents(litellm_models(settings), max_input_chars=settings.max_input_chars)
    report, signum = asyncio.run(
        _track_until_signalled(order_id, agents, tracing, RunLimits.from_settings(settings))
    )
    click.echo(render_report(report))
    if signum is not None:
        click.echo(f"Interrupted by {signal.Signals(signum).name}.", err=True)
        return 128 + signum
    return EXIT_OK if report.all_ok else EXIT_AGENT_FAILED


def _positive_seconds(ctx: Any, param: Any, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise BadInput(f"--timeout must be greater than 0, got {value:g}")
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("order_id")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=None,
    callback=_positive_seconds,
    metavar="SECONDS",
    help="Deadline for each agent (default: AGENT_TIMEOUT_S, else 60).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Also show the libraries' own warnings and errors."
)
def track_order_command(order_id: str, timeout_s: float | None, verbose: bool) -> None:
    """Ask five specialist agents about ORDER_ID (e.g. ORD-1001) at the same time."""
    order_id = normalise_order_id(order_id)
    sys.exit(_run(order_id, verbose, timeout_s))


class _Terminated(BaseException):
    """SIGTERM before the event loop took over (imports, set-up)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated


def _interrupted(signum: int) -> NoReturn:
    # Interrupted mid-set-up, a coroutine may never have been awaited: its warning is noise.
    warnings.simplefilter("ignore", RuntimeWarning)
    click.echo(f"Interrupted by {signal.Signals(signum).name}.", err=True)
    sys.exit(128 + signum)


def main(argv: list[str] | None = None, prog_name: str = "track-order") -> None:
    """Console-script entry point: clean one-line errors, documented exit codes."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        track_order_command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _interrupted(signal.SIGINT)
    except _Terminated:
        _interrupted(signal.SIGTERM)
    except click.ClickException as exc:
        click.echo(f"{prog_name}: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    finally:
        signal.signal(signal.SIGTERM, previous)
    # standalone_mode=False returns instead of exiting after --help.
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
