"""What several test modules share: the article's answers and output, running the CLI
in-process, reading traces, models and chats. Test modules import from here (never from each
other); fixtures live in ``conftest.py``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

from order_tracking.cli.main import main
from order_tracking.composition import production_models
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.models.gateway import ModelFactory

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# The console script of this environment, for the tests that need a process of its own.
TRACK_ORDER = str(Path(sys.executable).parent / "track-order")

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

EXPECTED_BODY = """=== Order Tracking Results for ORD-1001 ===

[order_status_agent]
Status: shipped | Items: 2 | Placed: 2024-01-15

[shipping_agent]
Carrier: UPS | Tracking: 1Z999AA1012345678 | ETA: 2024-01-18

[inventory_agent]
SKU-APL-01: 150 units in stock
SKU-KBD-07: 3 units — reorder recommended

[payment_agent]
Status: captured | Amount: $299.99 USD

[support_agent]
Your order ORD-1001 has shipped via UPS (tracking: 1Z999AA1012345678) and is expected to arrive by January 18th. Payment of $299.99 confirmed.

"""
FOOTER = re.compile(
    r"Wall-clock time: (\d+\.\d\d)s \(sequential estimate: ~(\d+\.\d)s\)\n"
    r"Traces written to: (\S+\.json)\n\Z"
)

# Every order object of the JSON schema.
ORDER_FIELDS = {"order_id", "wall_s", "trace_file", "trace_error", "trace_sampled", "agents"}
# Every agent object of the JSON schema, with its type.
AGENT_FIELDS = {
    "agent": str,
    "ok": bool,
    "status": str,
    "text": str,
    "error": (str, type(None)),
    "elapsed_s": float,
    "tokens": int,
    "cost_usd": (float, int),
    "tool_calls": list,
    "verified": (bool, type(None)),
    "unsupported_claims": list,
    "cached": bool,
}


def provider_env(stub: Any, tmp_path: Path, model: str, key: str = "sk-test") -> dict[str, str]:
    """The environment of a ``track-order`` process whose agents use ``model`` on the loopback
    provider, its traces in ``tmp_path``."""
    return dict(
        os.environ,
        SHIPPING_MODEL=model,
        OPENAI_API_BASE=stub.base_url,
        OPENAI_API_KEY=key,
        MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path / "traces"),
    )


def run_track_order(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """``track-order ARGV`` as a process of its own (text output captured)."""
    return subprocess.run(
        [TRACK_ORDER, *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


BACKEND_SOURCES = ["mock", "sqlite", "http"]


def backend_setting(source: str, article_db: Path, reference_api: str) -> str:
    """``ORDER_BACKEND`` for the article's data from ``source`` (fixtures ``article_db`` and
    ``reference_api``)."""
    return {"mock": "mock", "sqlite": f"sqlite:///{article_db}", "http": reference_api}[source]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``track-order ARGV`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def load_trace(path: Path) -> list[dict[str, Any]]:
    return json.loads(Path(path).read_text())


def offline_models(latency_s: float = 0.0) -> ModelFactory:
    """The production model wiring on the offline model, ``latency_s`` per call."""
    return production_models(Settings(default_model=OFFLINE_MODEL, offline_latency_s=latency_s))


class ProviderDown(BaseLlm):
    """A model whose provider is unreachable."""

    async def generate_content_async(
        self, llm_request: Any, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        raise ConnectionError("payment provider is down")
        yield  # pragma: no cover


async def chat(root: Any, questions: list[str]) -> list[tuple[str, str] | None]:
    """One conversation with ``root``: (author, text) of the final answer to each question."""
    service = InMemorySessionService()
    runner = Runner(agent=root, app_name="order_tracking", session_service=service)
    session = await service.create_session(app_name="order_tracking", user_id="u")
    answers = []
    try:
        for question in questions:
            final = None
            message = types.Content(role="user", parts=[types.Part(text=question)])
            async for event in runner.run_async(
                user_id="u", session_id=session.id, new_message=message
            ):
                if event.is_final_response() and event.content and event.content.parts:
                    final = (event.author, "".join(p.text or "" for p in event.content.parts))
            answers.append(final)
    finally:
        await runner.close()
    return answers


class Scripted(BaseLlm):
    """A model for one agent that follows a script over the offline model: ``rewrite(text)``
    replaces its final answers (a paraphrase, a planted error), ``hide`` keeps tools from it
    (it skips them), ``args`` changes the arguments of its tool calls (``{tool: {arg: v}}``)."""

    inner: Any
    rewrite: Any = None
    hide: tuple[str, ...] = ()
    args: dict[str, dict[str, Any]] = {}

    async def generate_content_async(
        self, llm_request: Any, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        if self.hide:
            llm_request = llm_request.model_copy(deep=True)
            for tool in llm_request.config.tools or []:
                tool.function_declarations = [
                    d for d in tool.function_declarations or [] if d.name not in self.hide
                ]
            llm_request.config.tools = [
                t for t in llm_request.config.tools or [] if t.function_declarations
            ] or None
            for name in self.hide:
                llm_request.tools_dict.pop(name, None)
        async for response in self.inner.generate_content_async(llm_request, stream):
            for part in (response.content.parts if response.content else None) or []:
                if part.text and self.rewrite and not response.partial:
                    part.text = self.rewrite(part.text)
                if part.function_call and part.function_call.name in self.args:
                    part.function_call.args = {
                        **(part.function_call.args or {}),
                        **self.args[part.function_call.name],
                    }
            yield response


def scripted_models(scripts: dict[str, dict[str, Any]], latency_s: float = 0.0) -> ModelFactory:
    """The offline models, with a ``Scripted`` model (its keyword arguments) for each agent
    named in ``scripts``."""
    offline = offline_models(latency_s)

    def models(agent_name: str) -> BaseLlm:
        if agent_name not in scripts:
            return offline(agent_name)
        return Scripted(model="scripted", inner=offline(agent_name), **scripts[agent_name])

    return models


async def lookup(systems: Any, system: str, order_id: str, sku: str) -> Any:
    """One system's lookup on ``systems`` (an ``HttpBackends`` or ``Backends``): the order,
    its shipment, the stock of ``sku``, its payment."""
    call = {
        "oms": lambda: systems.oms.get_order(order_id),
        "carrier": lambda: systems.carrier.get_shipment(order_id),
        "warehouse": lambda: systems.warehouse.get_stock([sku]),
        "payments": lambda: systems.payments.get_payment(order_id),
    }[system]
    return await call()
