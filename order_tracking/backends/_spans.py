"""Attributes on a backend call's span (Monocle wraps the calls: see ``tracing/setup.py``)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["span_attributes"]


def span_attributes(attributes: dict[str, Any]) -> None:
    """Set on the current span, only where the process traces: a server of ours (``backends
    serve``) must not import Monocle for this."""
    tracing = sys.modules.get("order_tracking.tracing.setup")
    if tracing is not None:
        tracing.current_span_attributes(attributes)
