"""``track-order ORD-1001``: ask all five specialists at once and print their answers.

Exit codes: 0 every agent answered, 1 some failed (their errors are shown), 2 bad input.
Input is checked before the heavy imports, so a typo fails fast and never reaches a model.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .async_runner import OrderReport

EXIT_OK, EXIT_AGENT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

_ORDER_ID = re.compile(r"ORD-\d{1,12}", re.IGNORECASE)


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
    """The article's Expected Output: header, one section per agent, timing, trace path."""
    lines = [f"=== Order Tracking Results for {report.order_id} ===", ""]
    for result in report.results:
        lines.append(f"[{result.agent}]")
        lines.append(result.text if result.ok else f"ERROR: {result.error}")
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


def _run(order_id: str) -> int:
    import asyncio

    from .agent import announce_model_choice, build_order_agents, litellm_models
    from .async_runner import track_order, warm_up
    from .config import ConfigError, Settings, load_env_files
    from .tracing import setup_tracing

    load_env_files()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    announce_model_choice(settings)
    asyncio.run(warm_up())
    tracing = setup_tracing(settings)
    agents = build_order_agents(litellm_models(settings))
    report = asyncio.run(track_order(order_id, agents, tracing))
    click.echo(render_report(report))
    return EXIT_OK if report.all_ok else EXIT_AGENT_FAILED


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("order_id")
def track_order_command(order_id: str) -> None:
    """Ask five specialist agents about ORDER_ID (e.g. ORD-1001) at the same time."""
    order_id = normalise_order_id(order_id)
    sys.exit(_run(order_id))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: clean one-line errors, documented exit codes."""
    try:
        track_order_command.main(args=argv, prog_name="track-order", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"track-order: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    # standalone_mode=False returns instead of exiting after --help.
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
