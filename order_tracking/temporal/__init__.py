"""Past one machine: each order a Temporal workflow, each agent run an activity, run by
``track-order worker`` processes anywhere that reach the server; ``track-order submit`` and
``result`` on the client side. Needs the ``temporal`` extra (``temporalio``)."""

from __future__ import annotations

from ._client import (
    KEY,
    NOT_SAMPLED,
    TemporalUnavailable,
    connect,
    new_key,
    report,
    submit,
    workflow_id,
)
from ._messages import AgentData, AgentRequest, OrderRequest
from ._worker import run_worker, sandbox
from ._workflow import TrackOrderWorkflow

__all__ = [
    "KEY",
    "NOT_SAMPLED",
    "AgentData",
    "AgentRequest",
    "OrderRequest",
    "TemporalUnavailable",
    "TrackOrderWorkflow",
    "connect",
    "new_key",
    "report",
    "run_worker",
    "sandbox",
    "submit",
    "workflow_id",
]
