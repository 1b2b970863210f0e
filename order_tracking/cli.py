"""``track-order``: ask the five specialists about orders, look at traces, serve over HTTP.

    track-order ORD-1001 [ORD-1002 ...]   (shorthand for ``track-order track ...``)
    track-order trace [FILE] [--html OUT]
    track-order serve [--host H] [--port P]

Exit codes: 0 every agent answered, 1 some did not (their sections say why), 2 bad input,
130/143 interrupted. Input is checked before the heavy imports, so a typo fails fast and
never reaches a model.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

if TYPE_CHECKING:
    from .results import AgentResult, OrderReport
    from .config import Settings

EXIT_OK, EXIT_AGENT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_CONCURRENCY = 10  # agent runs in flight across a batch: gentle on provider rate limits


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


def normalise_order_id(raw: str) -> str:
    """``ord-1001`` -> ``ORD-1001``; anything else that is not ``ORD-`` + digits is refused."""
    from .config import InvalidOrderId, parse_order_id

    try:
        return parse_order_id(raw)
    except InvalidOrderId as exc:
        raise BadInput(str(exc)) from None


def read_order_ids(ids: Sequence[str], file: TextIO | None) -> list[str]:
    """Ids from the arguments, then from the file (one per line; blank lines and ``#``
    comments skipped). All are checked before anything runs."""
    found = [normalise_order_id(raw) for raw in ids]
    for number, line in enumerate(file or (), start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                found.append(normalise_order_id(text))
            except BadInput as exc:
                raise BadInput(f"{file.name}, line {number}: {exc.message}") from None
    if not found:
        raise BadInput("give at least one order id (e.g. ORD-1001), or --file PATH")
    return found


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


def load_settings(verbose: bool, timeout_s: float | None = None) -> Settings:
    """Start-up: logging, .env files, secrets to redact, settings (bad ones exit 2)."""
    from .agent import AGENT_NAMES, announce_model_choice
    from .config import ConfigError, Settings, load_env_files
    from .redaction import install_log_redaction, register_secrets

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
    return settings


def warm_up() -> None:
    """LiteLLM's and ADK's lazy first-call imports, before any clock starts (no trace)."""
    from .async_runner import warm_up as warm_up_turn

    asyncio.run(warm_up_turn())


def start_agents(settings: Settings) -> tuple[Any, Any]:
    """Warm up (outside any trace), install tracing, build the specialists."""
    from .workers import build_production

    warm_up()
    return build_production(settings)


# --- Output ----------------------------------------------------------------------------------


class Progress:
    """A one-line progress indicator on stderr for batches, drawn only on a terminal."""

    def __init__(self, total_runs: int, stream: TextIO) -> None:
        self.total, self.done, self.orders_done = total_runs, 0, 0
        self.stream = stream

    def agent_done(self) -> None:
        self.done += 1
        self._draw()

    def order_done(self) -> None:
        self.orders_done += 1
        self._draw()

    def _draw(self) -> None:
        width = 30
        filled = width * self.done // max(1, self.total)
        bar = "█" * filled + "·" * (width - filled)
        self.stream.write(
            f"\r{bar} {self.done}/{self.total} agent runs, {self.orders_done} orders done"
        )
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()


@dataclasses.dataclass
class Output:
    """Prints as results and reports arrive, in the chosen mode."""

    mode: str  # "text", "stream", "json" or "quiet"
    batch: bool
    progress: Progress | None = None

    def on_result(self, order_id: str, result: AgentResult) -> None:
        from .report import render_section

        if self.progress:
            self.progress.agent_done()
        if self.mode == "stream":
            self._echo(render_section(result, order_id if self.batch else None) + "\n")

    def on_report(self, report: OrderReport) -> None:
        from .report import order_json, render_footer, render_report

        if self.progress:
            self.progress.order_done()
        if self.mode == "json":
            self._echo(json.dumps(order_json(report), ensure_ascii=False))
        elif self.mode == "text":
            self._echo(render_report(report) + ("\n" if self.batch else ""))
        elif self.mode == "stream":
            if self.batch:  # orders interleave: label the footer, and leave a gap after it
                prefix = f"[{report.order_id}] "
                self._echo(prefix + render_footer(report).replace("\n", f"\n{prefix}") + "\n")
            else:
                self._echo(render_footer(report))

    def _echo(self, text: str) -> None:
        if self.progress:
            self.progress.clear()
        click.echo(text)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _until_signalled(
    run: Any, on_force: Callable[[], None] | None = None
) -> tuple[Any, int | None]:
    """Await ``run(stop)``; SIGINT/SIGTERM set ``stop``, which cancels the agents still
    running (their sections say CANCELLED) while the reports and traces are completed.
    A second signal exits at once (after ``on_force``)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:
            if on_force:
                on_force()
            os._exit(128 + signum)
        received.append(signum)
        stop.set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        outcome = await run(stop)
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
    return outcome, received[0] if received else None


def _track(
    order_ids: list[str],
    mode: str,
    concurrency: int,
    workers: int,
    verbose: bool,
    timeout_s: float | None,
) -> int:
    from .agent import SPECIALIST_NAMES
    from .async_runner import track_orders
    from .results import RunLimits
    from .report import render_header, render_summary

    settings = load_settings(verbose, timeout_s)
    limits = RunLimits.from_settings(settings)
    batch = len(order_ids) > 1
    progress = None
    if batch and mode != "quiet" and sys.stderr.isatty():
        progress = Progress(len(order_ids) * len(SPECIALIST_NAMES), sys.stderr)
    out = Output(mode, batch, progress)

    if workers > 1 and batch:
        from .workers import Pool

        warm_up()  # before the fork: every worker inherits the warmed-up imports
        pool = Pool(order_ids, settings, workers, concurrency=concurrency, limits=limits)

        async def run(stop: asyncio.Event) -> list[OrderReport]:
            return await pool.collect(
                SPECIALIST_NAMES, stop=stop, on_result=out.on_result, on_report=out.on_report
            )

        reports, signum = asyncio.run(_until_signalled(run, on_force=pool.kill))
    else:
        agents, tracing = start_agents(settings)
        if mode == "stream" and not batch:
            click.echo(render_header(order_ids[0]) + "\n")

        async def run(stop: asyncio.Event) -> list[OrderReport]:
            return await track_orders(
                order_ids,
                agents,
                tracing,
                concurrency=concurrency,
                limits=limits,
                stop=stop,
                on_result=out.on_result,
                on_report=out.on_report,
            )

        reports, signum = asyncio.run(_until_signalled(run))
    if progress:
        progress.clear()
    if batch and mode in ("text", "stream"):
        click.echo(render_summary(reports))
    if signum is not None:
        click.echo(f"Interrupted by {signal.Signals(signum).name}.", err=True)
        return 128 + signum
    return EXIT_OK if all(r.all_ok for r in reports) else EXIT_AGENT_FAILED


# --- Commands ---------------------------------------------------------------------------------


class _DefaultToTrack(click.Group):
    """``track-order ORD-1001`` means ``track-order track ORD-1001``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["track", *args]
        return super().parse_args(ctx, args)


def _positive_seconds(ctx: Any, param: Any, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise BadInput(f"--timeout must be greater than 0, got {value:g}")
    return value


def _positive_int(ctx: Any, param: Any, value: int) -> int:
    if value < 1:
        raise BadInput(f"--{param.name} must be at least 1, got {value}")
    return value


def _concurrency_option(help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        callback=_positive_int,
        help=help_text,
    )


_verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also show the libraries' own warnings and errors."
)


@click.group(cls=_DefaultToTrack, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Track orders with five concurrent ADK agents; inspect traces; serve over HTTP.

    `track-order ORD-1001` is short for `track-order track ORD-1001`.
    """


@cli.command("track")
@click.argument("order_ids", nargs=-1, metavar="[ORDER_ID]...")
@click.option(
    "--file",
    "id_file",
    type=click.File("r"),
    default=None,
    metavar="PATH",
    help="Read order ids from PATH, one per line ('-' for stdin).",
)
@click.option("--stream", is_flag=True, help="Print each agent's result as it arrives.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per order on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; the exit code tells.")
@_concurrency_option("Agent runs in flight at once, across all orders.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    callback=_positive_int,
    help="Processes to spread a batch over, one event loop each (--concurrency is the total).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=None,
    callback=_positive_seconds,
    metavar="SECONDS",
    help="Deadline for each agent (default: AGENT_TIMEOUT_S, else 60).",
)
@_verbose_option
def track_command(
    order_ids: tuple[str, ...],
    id_file: TextIO | None,
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
    ids = read_order_ids(order_ids, id_file)
    mode = "stream" if stream else "json" if as_json else "quiet" if quiet else "text"
    sys.exit(_track(ids, mode, concurrency, workers, verbose, timeout_s))


@cli.command("trace")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write the tree and a waterfall chart as a self-contained HTML page.",
)
def trace_command(file: Path | None, html_out: Path | None) -> None:
    """Show a trace as a tree and a timeline (default: the newest in .monocle/)."""
    from .config import Settings
    from .trace_view import TraceError, load_trace, newest_trace, render_html, render_text

    try:
        path = file or newest_trace(Settings.from_env().trace_dir)
        trace = load_trace(path)
    except TraceError as exc:
        raise BadInput(str(exc)) from None
    click.echo(render_text(trace))
    if html_out is not None:
        html_out.write_text(render_html(trace), encoding="utf-8")
        click.echo(f"\nHTML written to: {html_out}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@_concurrency_option("Agent runs in flight at once, across all requests.")
@_verbose_option
def serve_command(host: str, port: int, concurrency: int, verbose: bool) -> None:
    """Serve order tracking over HTTP (FastAPI; OpenAPI docs at /docs)."""
    import socket

    # Bound here, before the heavy start-up, so a busy port is a one-line error (exit 2)
    # rather than uvicorn's log line and exit 3 after seconds of imports.
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    import uvicorn

    from .service import create_app

    settings = load_settings(verbose)
    agents, tracing = start_agents(settings)
    app = create_app(agents, tracing, settings, concurrency=concurrency)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"Serving on http://{shown}:{sock.getsockname()[1]} (API docs at /docs)", err=True)

    class Server(uvicorn.Server):
        # Signals are handled by _until_signalled, as for `track`: SIGINT/SIGTERM is a
        # graceful stop (exit 0), not uvicorn's re-raise of the signal after its shutdown.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = Server(uvicorn.Config(app, log_level="info" if verbose else "warning"))

    async def run(stop: asyncio.Event) -> None:
        async def stop_serving() -> None:
            await stop.wait()
            server.should_exit = True  # uvicorn's graceful shutdown: in-flight orders finish

        watcher = asyncio.create_task(stop_serving())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()

    _, signum = asyncio.run(_until_signalled(run))
    if signum is not None:
        click.echo(f"Stopped by {signal.Signals(signum).name}.", err=True)


# --- Entry point ------------------------------------------------------------------------------


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
        cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
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


def run(argv: list[str] | None = None, prog_name: str = "track-order") -> NoReturn:
    """The process entry point (console script, ``python -m``): :func:`main`, then a quick
    exit. Once the output and the traces are flushed there is nothing left to do, and
    tearing down the interpreter's few thousand modules would cost a noticeable part of a
    second. ``main`` itself only raises SystemExit, so it can be called in-process."""
    try:
        main(argv, prog_name)
        code: Any = EXIT_OK
    except SystemExit as exc:
        code = exc.code
    if "order_tracking.tracing" in sys.modules:
        from .tracing import shut_down

        shut_down()  # anything not yet written, and the Okahu upload, bounded
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = EXIT_OK if code is None else EXIT_AGENT_FAILED
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
