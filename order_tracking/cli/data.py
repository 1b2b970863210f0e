"""``track-order data …`` (import and generate order data) and ``track-order backends serve``
(the reference implementation of the backends' REST contract)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import click

from ..ops.logs import say
from .common import BadInput, host_option, port_option, settings, verbose_option

__all__ = ["backends_group", "data_group"]

DEFAULT_DB = Path("orders.db")
MAX_GENERATE = 100_000_000


@click.group("data")
def data_group() -> None:
    """Order data: import JSON Lines into the embedded database, generate synthetic orders."""


def _default_db() -> Path:
    configured = settings().backend
    return configured.path if configured.kind == "sqlite" and configured.path else DEFAULT_DB


@data_group.command("import")
@click.argument("source", type=click.File("rb"), metavar="FILE.jsonl")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Database file (default: ORDER_BACKEND's sqlite path, else {DEFAULT_DB}).",
)
def import_command(source: BinaryIO, db_path: Path | None) -> None:
    """Load orders and stock from FILE.jsonl ('-' for stdin), all or nothing.

    One JSON object per line: an order (order_id, status, placed_date, items, and optionally
    shipment and payment) or a stock level (sku, name, on_hand); see
    order_tracking/backends/data/order-data.schema.json. Re-importing an order replaces it.
    """
    from ..backends.data import ImportError_, import_lines
    from ..core.order_ids import source_name

    config = settings()
    db_path = db_path or _default_db()
    try:
        result = import_lines(source, db_path, source=source_name(source), pattern=config.order_ids)
    except ImportError_ as exc:
        raise BadInput(str(exc)) from None
    rate = result.orders / result.seconds if result.seconds else 0
    say(
        f"Imported {result.orders:,} orders and {result.stock:,} stock levels into {db_path} "
        f"in {result.seconds:.1f}s ({rate:,.0f} orders/s)."
    )
    say(f"Use it with: ORDER_BACKEND=sqlite:///{db_path}")


@data_group.command("generate")
@click.argument("count", type=click.IntRange(0, MAX_GENERATE), metavar="N")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same data.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default="-",
    help="Write to this file instead of stdout (whole or not at all).",
)
def generate_command(count: int, seed: int, output: Path) -> None:
    """Write N synthetic orders (and the stock of their SKUs) as JSON Lines."""
    from ..backends.data import generate

    lines = (line + "\n" for line in generate(count, seed))
    if str(output) == "-":
        sys.stdout.writelines(lines)
        return
    try:
        _write_whole(output, lines)
    except OSError as exc:  # a full disk, a folder that is not there or not ours
        raise BadInput(
            f"cannot write {output}: {exc.strerror or exc}; nothing was changed there"
        ) from None


def _write_whole(path: Path, lines: Iterable[str]) -> None:
    """``lines`` into ``path`` whole or not at all: written beside it under a temporary name,
    synced, then renamed over it. On any failure the temporary file is removed and ``path``
    is as it was (click's atomic file renames even after a failed write)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    partial = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, removed on failure
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with partial:
            partial.writelines(lines)
            partial.flush()
            os.fsync(partial.fileno())
        os.chmod(partial.name, mode)
        os.replace(partial.name, path)
    except BaseException:
        Path(partial.name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@click.group("backends")
def backends_group() -> None:
    """The four systems' REST API (order management, carrier, warehouse, payments)."""


@backends_group.command("serve")
@click.option(
    "--data",
    "data_source",
    default="mock",
    show_default=True,
    help="What to serve: mock (the article's data) or sqlite:///PATH.",
)
@host_option
@port_option(8081)
@click.option(
    "--insecure",
    is_flag=True,
    help="Serve beyond loopback without BACKEND_API_KEY: anyone who can reach it reads "
    "every order.",
)
@verbose_option
def serve_backends_command(
    data_source: str, host: str, port: int, insecure: bool, verbose: bool
) -> None:
    """Serve order data over the backends' REST contract (OpenAPI at /docs)."""
    from ..backends import BackendConfigError, open_backends, parse_backend
    from ..core.listen import ListenError, bind, exposure_warning, url
    from ..core.values import ConfigError, accepted_key

    config = settings(verbose)
    try:
        key = config.backend.api_key
        # The same rule as SERVICE_API_KEYS: this server checks the key.
        keys = (accepted_key(key, "BACKEND_API_KEY"),) if key else ()
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    try:
        source = parse_backend({"ORDER_BACKEND": data_source}, timeout_s=5, retries=0)
        if source.kind == "http":
            raise BackendConfigError("--data must be mock or sqlite:///PATH")
        backends = open_backends(source, config.order_ids)
        warning = exposure_warning(host, port, keys, insecure, key_name="BACKEND_API_KEY")
        sock = bind(host, port)
    except (BackendConfigError, ListenError) as exc:
        raise BadInput(str(exc).replace("ORDER_BACKEND", "--data")) from None
    if warning:
        say(warning, logging.WARNING)
    from ..http.backend_api import serve

    say(f"Serving {source.describe()} on {url(sock)} (API docs at /docs)")
    signum = serve(sock, backends, api_keys=keys, verbose=verbose)
    if signum is not None:
        say(f"Stopped by {signal.Signals(signum).name}.")
    sys.stderr.flush()
