"""``python -m order_tracking.cli``: ``track-order`` itself, as it was before the CLI had a
folder of its own."""

from .main import run

run()
