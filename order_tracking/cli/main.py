"""``track-order``: ask the five specialists about orders, look at traces, serve over HTTP.

The commands are here and in the modules beside this one; what their help says besides their
own description (examples, environment, exit codes) is ``help.py``'s. Input is checked before
the heavy imports, so a typo fails fast and never reaches a model. Commands only: start-up is
``composition.py``'s, printing ``output.py``'s, signals and exit ``ops/lifecycle.py``'s.
"""

from __future__ import annotations

import difflib
import logging
import signal
import sys
from pathlib import Path
from typing import BinaryIO, NoReturn

import click

from ..composition import announce_model_choice
from ..core import outbound
from ..core.order_ids import InvalidOrderId, parse_order_id
from ..core.settings import ConfigError
from ..core.values import shown
from ..ops import lifecycle
from ..ops.lifecycle import EXIT_OK
from ..ops.logs import say
from .common import (
    BadInput,
    concurrency_option,
    count,
    host_option,
    id_file_option,
    insecure_option,
    port_option,
    read_order_ids,
    timeout,
    timeout_option,
    verbose_option,
)
from .common import settings as settings_
from .data import backends_group, data_group
from .evaluate import eval_command
from .help import document
from .mcp import mcp_command
from .output import Mode
from .stream import consume_command, publish_command
from .temporal import result_command, submit_command
from .worker import worker_command

MAX_WORKERS = 256  # processes: more than any machine this runs on has cores for


# --- Commands ---------------------------------------------------------------------------------


class _DefaultToTrack(click.Group):
    """``track-order ORD-1001`` means ``track-order track ORD-1001``; a bare ``track-order``
    prints the help; a word that resembles a command and is no order id is named as a typo."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            click.echo(ctx.get_help())
            ctx.exit(EXIT_OK)
        own_options = {opt for param in self.get_params(ctx) for opt in param.opts}
        if args and args[0] not in self.commands and args[0] not in own_options:
            if not args[0].startswith("-"):
                _refuse_typo(args[0], list(self.commands))
            args = ["track", *args]
        return super().parse_args(ctx, args)


def _refuse_typo(word: str, commands: list[str]) -> None:
    """``track-order tracc``: a command misspelt, not an order id (unless the configured
    pattern says it is one)."""
    scores = {c: difflib.SequenceMatcher(None, word.lower(), c).ratio() for c in commands}
    best = max(scores.values(), default=0.0)
    if best < 0.6:
        return
    # Every command as close as the closest: `tracc` is one letter from `track` and `trace`.
    close = " or ".join(repr(c) for c in commands if scores[c] == best)
    try:
        parse_order_id(word, pattern=settings_().order_ids)
    except InvalidOrderId:
        raise BadInput(
            f"no such command {shown(word)}; did you mean {close}? "
            "(track-order --help lists the commands)"
        ) from None


@click.group(cls=_DefaultToTrack, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    package_name="order-tracking", prog_name="track-order", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Ask five specialist agents about orders at once (order status, shipping, inventory,
    payment, support), look at their traces, and serve them over HTTP, MCP or Temporal.

    `track-order ORD-1001` is short for `track-order track ORD-1001`. With no model
    configured, the built-in offline model answers: no key, no network.
    """


@cli.command("track")
@click.argument("order_ids", nargs=-1, metavar="[ORDER_ID]...")
@id_file_option
@click.option("--stream", is_flag=True, help="Print each agent's result as it arrives.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per order on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; the exit code tells.")
@concurrency_option("Agent runs in flight at once, across all orders.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    callback=count(MAX_WORKERS),
    help="Processes to spread a batch over, one event loop each (--concurrency is the total).",
)
@timeout_option("Deadline for each agent (default: AGENT_TIMEOUT_S, else 60).")
@verbose_option
def track_command(
    order_ids: tuple[str, ...],
    id_file: BinaryIO | None,
    stream: bool,
    as_json: bool,
    quiet: bool,
    concurrency: int,
    workers: int,
    timeout_s: float | None,
    verbose: bool,
) -> None:
    """Ask five specialist agents about each ORDER_ID (e.g. ORD-1001) at the same time."""
    if sum((stream, as_json, quiet)) > 1:
        raise BadInput("choose one of --stream, --json and --quiet")
    settings = settings_(verbose, timeout_s)  # cheap: no agent library yet; it has the id pattern
    with read_order_ids(order_ids, id_file, settings.order_ids) as ids:
        mode = (
            Mode.STREAM if stream else Mode.JSON if as_json else Mode.QUIET if quiet else Mode.TEXT
        )
        from .batch import run_batch

        if not quiet:  # --quiet prints nothing; the exit code tells
            announce_model_choice(settings)
        try:
            code = run_batch(ids, settings, mode, concurrency=concurrency, workers=workers)
        except ConfigError as exc:  # a backend that cannot be opened
            raise BadInput(str(exc)) from None
    sys.exit(code)


@cli.command("trace")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--html",
    "html_out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the tree and a waterfall chart as a self-contained HTML page.",
)
def trace_command(file: Path | None, html_out: Path | None) -> None:
    """Show a trace as a tree and a timeline (default: the newest in .monocle/)."""
    from ..tracing.view import TraceError, load_trace, newest_trace, render_text, write_html

    config = settings_()
    try:
        path = file or newest_trace(config.trace_dir)
        trace = load_trace(path)
        if html_out is not None:  # written first: a path that fails is one line, nothing printed
            write_html(trace, html_out)
    except TraceError as exc:
        ratio = config.trace_sample_ratio
        sampled = f"; TRACE_SAMPLE_RATIO={ratio:g} keeps only that share of orders' traces"
        raise BadInput(f"{exc}{sampled if ratio < 1 else ''}") from None
    click.echo(render_text(trace))
    if html_out is not None:
        click.echo(f"\nHTML written to: {html_out}")


@cli.command("serve")
@host_option
@port_option(8080)
@concurrency_option("Agent runs in flight at once, across all requests.")
@insecure_option
@click.option(
    "--request-timeout",
    "request_timeout_s",
    type=float,
    default=10.0,
    show_default=True,
    callback=timeout,
    metavar="SECONDS",
    help="A whole request (headers, body) must arrive within this; slower clients are cut off.",
)
@verbose_option
def serve_command(
    host: str,
    port: int,
    concurrency: int,
    insecure: bool,
    request_timeout_s: float,
    verbose: bool,
) -> None:
    """Serve order tracking over HTTP (FastAPI; OpenAPI docs at /docs)."""
    from ..core.listen import ListenError, bind, exposure_warning, url

    settings = settings_(verbose)
    try:
        warning = exposure_warning(host, port, settings.service_api_keys, insecure)
        # Bound here, before the heavy start-up, so a busy port is a one-line error (exit 2)
        # rather than uvicorn's log line and exit 3 after seconds of imports.
        sock = bind(host, port)
    except ListenError as exc:
        raise BadInput(str(exc)) from None
    if warning:
        say(warning, logging.WARNING)
    from .. import composition
    from ..http import service

    announce_model_choice(settings)
    try:
        tracker = composition.build(settings, warm=True)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    say(f"Serving on {url(sock)} (API docs at /docs)")
    signum = service.serve(
        sock,
        tracker,
        concurrency=concurrency,
        verbose=verbose,
        request_timeout_s=request_timeout_s,
    )
    if signum is not None:
        say(f"Stopped by {signal.Signals(signum).name}.")


cli.add_command(data_group)
cli.add_command(backends_group)
cli.add_command(worker_command)
cli.add_command(submit_command)
cli.add_command(result_command)
cli.add_command(eval_command)
cli.add_command(mcp_command)
cli.add_command(consume_command)
cli.add_command(publish_command)
document(cli)  # every command's examples, environment and exit codes (help.py)


# --- Entry point ------------------------------------------------------------------------------


def main(argv: list[str] | None = None, prog_name: str = "track-order") -> None:
    """The command line with clean one-line errors and the documented exit codes. Only
    raises SystemExit, so it can be called in-process (the tests do)."""
    with lifecycle.sigterm_raises():
        try:
            cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
        except (click.exceptions.Abort, KeyboardInterrupt):
            lifecycle.exit_interrupted(signal.SIGINT)
        except lifecycle.Terminated:
            lifecycle.exit_interrupted(signal.SIGTERM)
        except click.exceptions.NoArgsIsHelpError as exc:  # `track-order data`: as a bare one
            click.echo(exc.ctx.get_help())
            sys.exit(EXIT_OK)
        except click.ClickException as exc:
            # One line, whatever the message quotes (a value from a file, a peer's reason).
            click.echo(f"{prog_name}: error: {outbound.line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
    # standalone_mode=False returns instead of exiting after --help.
    sys.exit(EXIT_OK)


def run(argv: list[str] | None = None, prog_name: str = "track-order") -> NoReturn:
    """The process entry point (console script, ``python -m``): :func:`main`, then a quick
    exit (see ``lifecycle.exit_fast``)."""
    lifecycle.exit_fast(lambda: main(argv, prog_name))


if __name__ == "__main__":
    run()
