"""Shared fixtures. Everything runs offline: models are the offline provider or a server on
127.0.0.1 that a fixture starts. Monocle is installed once per session, as in production."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai_stub import OpenAIStub

import order_tracking  # noqa: F401  (sets LiteLLM's offline-safe env before any litellm import)
from order_tracking.agent import ModelFactory, litellm_models
from order_tracking.config import OFFLINE_MODEL, Settings

REPO_ROOT = Path(__file__).resolve().parent.parent

ARTICLE_ANSWERS = {
    "order_status_agent": "Status: shipped | Items: 2 | Placed: 2024-01-15",
    "shipping_agent": "Carrier: UPS | Tracking: 1Z999AA1012345678 | ETA: 2024-01-18",
    "inventory_agent": "SKU-APL-01: 150 units in stock\nSKU-KBD-07: 3 units — reorder recommended",
    "payment_agent": "Status: captured | Amount: $299.99 USD",
    "support_agent": (
        "Your order ORD-1001 has shipped via UPS (tracking: 1Z999AA1012345678) and is "
        "expected to arrive by January 18th. Payment of $299.99 confirmed."
    ),
}


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's keys or model choices must not leak into tests (nor reach a network)."""
    for key in list(os.environ):
        if key.endswith("_AGENT_MODEL") or key in {
            "OPENAI_API_KEY",
            "OPENAI_API_BASE",
            "OPENAI_BASE_URL",
            "OKAHU_API_KEY",
            "OFFLINE_MODEL_LATENCY_S",
            "MODEL_TIMEOUT_S",
        }:
            monkeypatch.delenv(key)
    # A developer's order_tracking/.env (the article has one hold an OpenAI key) must not load,
    # here or in the subprocesses tests start: the same switch ADK honours.
    monkeypatch.setenv("ADK_DISABLE_LOAD_DOTENV", "1")
    monkeypatch.setenv("SHIPPING_MODEL", "offline")


@pytest.fixture(scope="session")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("monocle")


@pytest.fixture(scope="session")
def tracing(trace_dir: Path):
    """Monocle, installed once for the session as the CLI installs it."""
    from order_tracking.tracing import setup_tracing

    return setup_tracing(Settings(default_model=OFFLINE_MODEL, trace_dir=trace_dir))


def offline_models(latency_s: float = 0.0) -> ModelFactory:
    return litellm_models(Settings(default_model=OFFLINE_MODEL, offline_latency_s=latency_s))


@pytest.fixture
def models() -> ModelFactory:
    return offline_models()


@pytest.fixture(scope="session")
def openai_stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
def stub(openai_stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> OpenAIStub:
    """The loopback server as the OpenAI endpoint for this test (LiteLLM reads these two on
    each call; ``_hermetic_env`` clears them for every test), its counts reset."""
    monkeypatch.setenv("OPENAI_API_BASE", openai_stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_stub.reset()
    return openai_stub


def load_trace(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())
