"""One attempt's call to one model: the request addressed to it with the attempt's timeout,
and its responses read within that timeout, however the provider sends them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from ._classify import ModelCallTimeout


async def bounded(
    model: BaseLlm, request: LlmRequest, stream: bool, timeout_s: float | None
) -> AsyncGenerator[LlmResponse, None]:
    """One call's responses, the provider's time all told within ``timeout_s``.

    The provider's own timeout bounds each read, so a body trickled a byte at a time never
    trips it: here the time spent waiting on the provider, every read of the call added up,
    is bounded. The caller's time between responses (a streamed answer's consumer) does not
    count. The caller counts each response, then checks it (``check_response``): a response
    the model could not have meant is retried, then the fallbacks, then the degraded answer.
    """
    loop = asyncio.get_running_loop()
    remaining = timeout_s
    responses = model.generate_content_async(request, stream)
    async with aclosing(responses):
        while True:
            started = loop.time()
            deadline = asyncio.timeout(remaining)
            try:
                async with deadline:
                    response = await anext(responses)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not deadline.expired():  # the provider's own timeout: its error stands
                    raise
                raise ModelCallTimeout(
                    f"no complete answer from {model.model} within {timeout_s:g}s"
                ) from None
            if remaining is not None:
                remaining -= loop.time() - started
            yield response


def prepared(llm_request: LlmRequest, model: BaseLlm, timeout_s: float | None) -> LlmRequest:
    """The request for one attempt: addressed to ``model``, with this attempt's timeout.

    ADK sets llm_request.model to the agent's model name and LiteLlm prefers it to its own:
    without this every fallback (and the degraded call) would go to the primary. ADK passes
    ``http_options.timeout`` (milliseconds) on to LiteLLM as the call's timeout.
    """
    update: dict[str, Any] = {}
    if llm_request.model != model.model:
        update["model"] = model.model
    if timeout_s is not None:
        options = llm_request.config.http_options or types.HttpOptions()
        update["config"] = llm_request.config.model_copy(
            update={"http_options": options.model_copy(update={"timeout": int(timeout_s * 1000)})}
        )
    return llm_request.model_copy(update=update) if update else llm_request
