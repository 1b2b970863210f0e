"""The five specialist agents of the article, and the root coordinator for ``adk web .``.

Models are passed in (``models(agent_name) -> BaseLlm``) so tests and benchmarks can hand in
any model; :func:`litellm_models` is the production choice: every agent through LiteLLM.

``root_agent`` and ``ORDER_AGENTS`` are built from the environment on first access, which is
start-up for ``adk web`` (ADK loads ``.env`` before it imports this module).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import stamina
from google.adk.agents import Agent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.lite_llm import LiteLlm
from google.adk.tools import FunctionTool

from . import tools
from .config import OFFLINE_MODEL, Settings, load_env_files
from .guard import input_guard
from .redaction import install_log_redaction, register_secrets
from .resilience import Breakers, ResilientModel, RetryPolicy
from .tracing import trace_circuit_change

ModelFactory = Callable[[str], BaseLlm]

COORDINATOR_NAME = "coordinator_agent"
DEFAULT_MAX_INPUT_CHARS = 2_000


@dataclass(frozen=True)
class Specialist:
    name: str
    description: str
    instruction: str
    tools: tuple[Callable[..., dict[str, Any]], ...]


# Answer formats are written as backticked templates: a real model reads them as examples,
# the offline model fills them from tool results (see offline_model.py).
SPECIALISTS: tuple[Specialist, ...] = (
    Specialist(
        name="order_status_agent",
        description=(
            "Order status: whether an order is processing, shipped or delivered, "
            "when it was placed and which items it contains."
        ),
        instruction="""You answer questions about an order's fulfilment status.
Call get_order_status with the order id from the question, then answer in exactly this format:
- `Status: {order_status} | Items: {item_count} | Placed: {placed_date}`
If the tool reports an error, say what it says (for example that the order was not found).""",
        tools=(tools.get_order_status,),
    ),
    Specialist(
        name="shipping_agent",
        description=(
            "Shipping: the carrier, tracking number and delivery date or ETA of an "
            "order's package: where it is and when it will arrive."
        ),
        instruction="""You answer questions about an order's shipment.
Call get_shipping_details with the order id from the question, then answer with the line that fits the shipment status:
- when in_transit: `Carrier: {carrier} | Tracking: {tracking_number} | ETA: {eta}`
- when delivered: `Carrier: {carrier} | Tracking: {tracking_number} | Delivered: {delivered_date}`
- when not_shipped: `Not shipped yet: no carrier or tracking number assigned`
If the tool reports an error, say what it says (for example that the order was not found).""",
        tools=(tools.get_shipping_details,),
    ),
    Specialist(
        name="inventory_agent",
        description=(
            "Inventory: warehouse stock on hand and reorder flags for a SKU or for the "
            "items of an order."
        ),
        instruction="""You answer questions about warehouse stock.
Call check_inventory with the SKU from the question, or with the order id to check every item of that order.
Answer with one line per SKU, chosen by its stock state:
- when in_stock: `{sku}: {on_hand} units in stock`
- when low_stock: `{sku}: {on_hand} units — reorder recommended`
- when out_of_stock: `{sku}: out of stock — reorder recommended`
If the tool reports an error, say what it says (for example that the order was not found).""",
        tools=(tools.check_inventory,),
    ),
    Specialist(
        name="payment_agent",
        description=(
            "Payment: whether an order has been paid (payment authorized, captured or "
            "failed), what it cost and the currency; never card numbers or other card data."
        ),
        instruction="""You answer questions about an order's payment.
Call get_payment_status with the order id from the question, then answer in exactly this format:
- `Status: {payment_status} | Amount: ${amount:.2f} {currency}`
Never reveal or guess card numbers, expiry dates or any other card data, even if asked.
If the tool reports an error, say what it says (for example that the order was not found).""",
        tools=(tools.get_payment_status,),
    ),
    Specialist(
        name="support_agent",
        description=(
            "Customer support: a short, friendly summary for the customer of everything "
            "about an order: its status, delivery and payment."
        ),
        instruction="""You are a friendly customer-support agent.
Call get_order_status, get_shipping_details and get_payment_status for the order in the question,
then write one short paragraph for the customer from these sentences, picking those that fit:
- when shipped: `Your order {order_id} has shipped via {carrier} (tracking: {tracking_number}) and is expected to arrive by {eta:long}.`
- when processing: `Your order {order_id} is being prepared and has not shipped yet.`
- when delivered: `Your order {order_id} was delivered by {carrier} on {delivered_date:long}.`
- when captured: `Payment of ${amount:.2f} confirmed.`
- when authorized: `Payment of ${amount:.2f} is authorized and will be charged when your order ships.`
- when failed: `Your payment did not go through; please update your payment method.`
({eta:long} means the date written out, such as January 18th.) Never share card data.
If the tools report an error, say what it says (for example that the order was not found).""",
        tools=(tools.get_order_status, tools.get_shipping_details, tools.get_payment_status),
    ),
)

SPECIALIST_NAMES: tuple[str, ...] = tuple(s.name for s in SPECIALISTS)
AGENT_NAMES: tuple[str, ...] = (*SPECIALIST_NAMES, COORDINATOR_NAME)

_COORDINATOR_INSTRUCTION = """You are the order-tracking coordinator.
You do not look anything up yourself: transfer each question to the specialist whose description fits it best.
If a question fits no specialist, say briefly what you can help with."""


def _fixed(text: str) -> Callable[[Any], str]:
    # An instruction *provider*: ADK then leaves {placeholders} alone instead of
    # treating them as session-state variables.
    def instruction(_ctx: Any) -> str:
        return text

    return instruction


class _Tool(FunctionTool):
    """A plain-function tool whose declaration (what the model reads) is built once.

    ADK rebuilds a tool from a bare function on every model call and returns a deep copy of
    its declaration each time (about 1 ms of CPU per tool per call here), so that toolsets
    can rename tools without touching the original. Our tools are never renamed, and
    LiteLLM's adapter copies the schema it sends, so one shared declaration is enough.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        super().__init__(func)
        self._declaration = super()._get_declaration()

    def _get_declaration(self) -> Any:
        return self._declaration


def _agent(spec: Specialist, model: BaseLlm, max_input_chars: int) -> Agent:
    return Agent(
        name=spec.name,
        model=model,
        description=spec.description,
        instruction=_fixed(spec.instruction),
        tools=[_Tool(tool) for tool in spec.tools],
        before_model_callback=input_guard(max_input_chars),
    )


def _without_a2a() -> None:
    """Mark ADK's optional A2A module missing, once, when its ``a2a`` package is absent.

    ADK 2.13 imports ``google.adk.agents.remote_a2a_agent`` on every agent run to check for
    remote agents; without ``a2a`` the import fails, nothing caches the failure, and the
    module is loaded and executed again each time: about 3 ms of CPU per agent run. A
    ``None`` in ``sys.modules`` is Python's own way to say "not importable".
    """
    module = "google.adk.agents.remote_a2a_agent"
    if module not in sys.modules and importlib.util.find_spec("a2a") is None:
        sys.modules[module] = None  # type: ignore[assignment]


def build_order_agents(
    models: ModelFactory,
    names: Sequence[str] = SPECIALIST_NAMES,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
) -> list[Agent]:
    """Fresh specialist agents for the concurrent runner: no parent, no transfer instructions."""
    _without_a2a()
    by_name = {s.name: s for s in SPECIALISTS}
    return [_agent(by_name[name], models(name), max_input_chars) for name in names]


def build_root_agent(models: ModelFactory, max_input_chars: int = DEFAULT_MAX_INPUT_CHARS) -> Agent:
    """The coordinator with its own specialist instances (an agent has only one parent).

    ADK adds the transfer-to-parent and transfer-to-peer instructions to these instances only.
    """
    _without_a2a()
    return Agent(
        name=COORDINATOR_NAME,
        model=models(COORDINATOR_NAME),
        description="Routes order questions to the specialist that answers them.",
        instruction=_fixed(_COORDINATOR_INSTRUCTION),
        sub_agents=[_agent(s, models(s.name), max_input_chars) for s in SPECIALISTS],
        before_model_callback=input_guard(max_input_chars),
    )


def litellm_models(settings: Settings, breakers: Breakers | None = None) -> ModelFactory:
    """Every agent through LiteLLM: its model, then ``FALLBACK_MODELS``, then the offline
    model as the degraded last resort, with retries and per-model circuit breakers."""
    import litellm

    from . import offline_model

    # Otherwise every failed call prints a "Give Feedback / Get Help" banner on stdout.
    litellm.suppress_debug_info = True
    # Retries are traced and logged by ResilientModel; stamina's own hooks would print them.
    stamina.instrumentation.set_on_retry_hooks([])
    # Registered even for real models: it is what an agent degrades to.
    offline_model.register(latency_s=settings.offline_latency_s)
    breakers = breakers or Breakers(
        threshold=settings.circuit_threshold,
        cooldown_s=settings.circuit_cooldown_s,
        on_change=trace_circuit_change,
    )
    policy = RetryPolicy(retries=settings.model_retries, model_timeout_s=settings.model_timeout_s)

    def litellm_model(name: str) -> LiteLlm:
        # num_retries=0: retries happen in ResilientModel, where each one is seen and traced.
        # _skip_mcp_handler: on every call that carries tools LiteLLM looks for tools of its
        # MCP gateway, importing its MCP machinery to do so (about 18 MiB and 1.8 billion
        # instructions at start-up). Our tools are plain functions, never gateway tools; the
        # switch is LiteLLM's own (its gateway sets it on its inner calls), and
        # tests/test_openai_provider.py checks that LiteLLM still consumes it.
        return LiteLlm(
            model=name, timeout=settings.model_timeout_s, num_retries=0, _skip_mcp_handler=True
        )

    def models(agent_name: str) -> BaseLlm:
        names = list(dict.fromkeys((settings.model_for(agent_name), *settings.fallback_models)))
        offline_only = names == [OFFLINE_MODEL]
        return ResilientModel.of(
            [litellm_model(n) for n in names],
            degrade_to=None if offline_only else litellm_model(OFFLINE_MODEL),
            guards=[breakers],
            policy=policy,
        )

    return models


def announce_model_choice(settings: Settings, stream: Any = None) -> None:
    """One line on stderr when the offline model is used because nothing else was configured."""
    if settings.offline_fallback:
        which = (
            "the agents without their own *_AGENT_MODEL use"
            if settings.model_overrides
            else "using"
        )
        print(
            f"No SHIPPING_MODEL and no OPENAI_API_KEY set: {which} the built-in offline model "
            f"({OFFLINE_MODEL}), a rule-based stand-in, not an LLM.",
            file=stream or sys.stderr,
        )


_built: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    # Built on first access so importing this module (the CLI does) reads no environment.
    # For `adk web` that first access is start-up, so tracing is installed here too: each
    # chat turn becomes one trace file.
    if name in ("root_agent", "ORDER_AGENTS"):
        if not _built:
            from .tracing import setup_tracing

            load_env_files()
            register_secrets(os.environ)
            install_log_redaction()
            settings = Settings.from_env(agent_names=AGENT_NAMES)
            announce_model_choice(settings)
            setup_tracing(settings)
            models = litellm_models(settings)
            _built["root_agent"] = build_root_agent(models, settings.max_input_chars)
            _built["ORDER_AGENTS"] = build_order_agents(
                models, max_input_chars=settings.max_input_chars
            )
        return _built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
