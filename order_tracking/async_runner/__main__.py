"""``python -m order_tracking.async_runner ORD-1001``: the article's way to run the batch, the
same command as ``track-order``. A module of its own so the runner never imports the CLI."""

from ..cli.main import run

run(prog_name="python -m order_tracking.async_runner")
