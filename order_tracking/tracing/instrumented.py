"""What Monocle wraps beyond its own ADK and LiteLLM entries (``setup._install_monocle``):
the calls it does not know of (the offline model, LiteLLM's own HTTP handler, streamed OpenAI
calls, MCP 2.x tool calls) and our backends' calls, each as a Monocle wrapper entry."""

from __future__ import annotations

from typing import Any

from monocle_apptrace.instrumentation.common.wrapper import atask_wrapper
from monocle_apptrace.instrumentation.metamodel.litellm.entities.inference import INFERENCE

__all__ = ["OFFLINE_INFERENCE", "OUR_METHODS"]

# Monocle's LiteLLM inference entity, with a provider entity that names the offline model
# (Monocle cannot infer one from a custom provider's class).
OFFLINE_INFERENCE: dict[str, Any] = {
    **INFERENCE,
    "is_auto_close": lambda kwargs: True,
    "attributes": [
        [
            {"attribute": "type", "accessor": lambda arguments: "inference.offline"},
            {"attribute": "provider_name", "accessor": lambda arguments: "offline"},
            {
                "attribute": "inference_endpoint",
                "accessor": lambda arguments: "offline://" + str(arguments["kwargs"].get("model")),
            },
        ],
        *INFERENCE["attributes"][1:],
    ],
}

# Monocle 0.8.15 lists no streamed OpenAI chat call, so `adk web` (which streams) would record
# no inference span for openai/... models. `async_streaming` returns the stream: the span must
# stay open until the stream is consumed, which Monocle's LiteLLM stream processor handles.
_OPENAI_STREAMING = {
    "package": "litellm.llms.openai.openai",
    "object": "OpenAIChatCompletion",
    "method": "async_streaming",
    "wrapper_method": atask_wrapper,
    "output_processor": {**INFERENCE, "is_auto_close": lambda kwargs: False},
}

# LiteLLM's own HTTP handler, which makes OpenAI-compatible calls (and other providers')
# without the openai SDK when EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER is on (our default,
# see core/settings.py): Monocle 0.8.15 wraps only the SDK's path. LiteLLM calls both with
# model, messages, api_base and optional_params as keywords, as Monocle's entity reads them;
# the provider is named from the call (Monocle names it from the handler's class).
_HTTP_HANDLER_INFERENCE: dict[str, Any] = {
    **INFERENCE,
    "attributes": [
        [
            {
                "attribute": "type",
                "accessor": lambda arguments: (
                    "inference." + str(arguments["kwargs"].get("custom_llm_provider") or "generic")
                ),
            },
            *INFERENCE["attributes"][0][1:],
        ],
        *INFERENCE["attributes"][1:],
    ],
}
_HTTP_HANDLER_METHODS = [
    {
        "package": "litellm.llms.custom_httpx.llm_http_handler",
        "object": "BaseLLMHTTPHandler",
        "method": method,
        "wrapper_method": atask_wrapper,
        "output_processor": {
            **_HTTP_HANDLER_INFERENCE,
            "is_auto_close": lambda kwargs, closes=closes: closes,
        },
    }
    for method, closes in (("async_completion", True), ("acompletion_stream_function", False))
]

# A span per backend call, under its tool's span (attributes set by the call itself).
_BACKEND_METHODS = [
    {
        "package": f"order_tracking.backends.{module}",
        "object": cls,
        "method": method,
        "span_name": f"backend.{kind}",
        "wrapper_method": atask_wrapper,
        "output_processor": {"type": f"backend.{kind}", "attributes": []},
    }
    for module, cls, method, kind in (
        ("_http", "HttpBackends", "call", "http"),
        ("_sqlite", "SqliteBackend", "_lookup", "sqlite"),
    )
]

# A span per MCP tool call from the agents (TOOLS_MCP_URL): Monocle's own MCP entry wraps
# mcp 1.x's BaseSession.send_request, which mcp 2.x no longer has.
_MCP_METHODS = [
    {
        "package": "mcp.client.session",
        "object": "ClientSession",
        "method": "call_tool",
        "span_name": "mcp.call_tool",
        "wrapper_method": atask_wrapper,
        "output_processor": {
            "type": "agentic.mcp.invocation",
            "attributes": [
                [
                    {
                        "attribute": "name",
                        "accessor": lambda arguments: (
                            (arguments.get("args") or [None])[0]
                            or (arguments.get("kwargs") or {}).get("name")
                        ),
                    },
                    {"attribute": "type", "accessor": lambda arguments: "mcp.tool"},
                ]
            ],
        },
    }
]

_OFFLINE_METHODS = [
    {
        "package": "order_tracking.models.offline",
        "object": "OfflineModel",
        "method": "respond",
        # The span's name from before the package had wings: what dashboards filter on.
        "span_name": "order_tracking.offline_model.OfflineModel.respond",
        "wrapper_method": atask_wrapper,
        "output_processor": OFFLINE_INFERENCE,
    }
]


OUR_METHODS = [
    _OPENAI_STREAMING,
    *_HTTP_HANDLER_METHODS,
    *_OFFLINE_METHODS,
    *_MCP_METHODS,
    *_BACKEND_METHODS,
]
