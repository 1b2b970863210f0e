"""Record a real model's responses for the replay test (``tests/models/test_recorded_model.py``):

    uv run python -m scripts.record_model_responses --upstream http://127.0.0.1:8080/v1 \\
        --name smollm2-llama-server --describe "llama-server ... SmolLM2-135M-Instruct Q4_1"

The orders are run through the agents as ``track-order`` runs them (LiteLLM's OpenAI provider,
retries, the degraded answer, the answer check), one agent run at a time, with the model
behind a recording proxy on 127.0.0.1 that forwards each request to ``--upstream`` (any
OpenAI-compatible server: llama.cpp's ``llama-server``, ``llama-cpp-python``, Ollama's
``/v1``) and keeps the request and the response as they were. The recording goes to
``tests/fixtures/model_responses/NAME.json``; what each response was (empty, arguments that
are not JSON, a made-up id...) and the median call time are printed at the end.

Timeouts are long by default (a small model on two cores takes seconds a call): a request
given up by the agent would be recorded but never answered in the replay. Review the diff
before committing; see docs/local-model.md for the servers and settings that work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from order_tracking import composition
from order_tracking.agents.specialists import AGENT_NAMES
from order_tracking.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
from replay import FIXTURES, escaped, shape

ORDERS = ("ORD-1001", "ORD-1002", "ORD-1003", "ORD-9999")  # the built-in data, and a missing one
# What a response keeps: the rest (the server's timings, its build) changes every run.
_KEPT = ("choices", "usage", "model", "object")


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, timeout_s: float, tool_choice: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.client = httpx.Client(base_url=upstream.rstrip("/"), timeout=timeout_s)
        self.tool_choice = tool_choice
        self.exchanges: list[dict[str, Any]] = []
        self.lock = threading.Lock()


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.loads(raw or b"{}")
        if self.server.tool_choice and body.get("tools"):
            body["tool_choice"] = self.server.tool_choice
            raw = json.dumps(body).encode()
        path = self.path.removeprefix("/v1")
        started = time.perf_counter()
        try:
            upstream = self.server.client.post(
                path, content=raw, headers={"content-type": "application/json"}
            )
            status, answer = upstream.status_code, upstream.content
        except httpx.HTTPError as exc:  # recorded as the provider error it was
            status, answer = 502, json.dumps({"error": {"message": str(exc)}}).encode()
        elapsed = time.perf_counter() - started
        try:
            response = json.loads(answer)
        except json.JSONDecodeError:
            response = {"error": {"message": answer.decode("utf-8", "replace")[:2000]}}
        if status == 200:
            response = {k: response[k] for k in _KEPT if k in response}
        with self.server.lock:
            self.server.exchanges.append(
                {
                    "request": {
                        "tools": sorted(t["function"]["name"] for t in body.get("tools") or ()),
                        # The system message is the agent's instruction: long, and ours.
                        "messages": [m for m in body["messages"] if m.get("role") != "system"],
                    },
                    "status": status,
                    "response": response,
                    "elapsed_s": round(elapsed, 3),
                }
            )
        out = json.dumps(response).encode() if status == 200 else answer
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


async def _run(settings: Settings, orders: list[str], rounds: int) -> list[str]:
    """The orders, ``rounds`` times, one agent run at a time (a local server answers one
    request at a time: a call's time is then its own, not a queue's)."""
    app = composition.build(settings, traced=False)
    lines: list[str] = []

    def note(order_id: str, result: Any) -> None:
        lines.append(f"{order_id} {result.agent}: {result.status.value} ({result.error or 'ok'})")
        print(lines[-1], flush=True)

    try:
        for _ in range(rounds):
            await app.track_orders(orders, concurrency=1, on_result=note)
    finally:
        await app.aclose()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the server's /v1 URL")
    parser.add_argument("--name", required=True, help="the recording's file name, no suffix")
    parser.add_argument("--describe", required=True, help="model, server and its flags")
    parser.add_argument("--model", default="openai/local", help="the LiteLLM model name")
    parser.add_argument("--orders", nargs="+", default=list(ORDERS))
    parser.add_argument("--rounds", type=int, default=1, help="times each order is run")
    parser.add_argument("--model-timeout", type=float, default=600.0)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument(
        "--tool-choice",
        help="sent upstream with every request that offers tools (the agents send none): "
        "llama-cpp-python's chatml-function-calling ignores tools without it",
    )
    args = parser.parse_args(argv)

    proxy = _Proxy(args.upstream, args.model_timeout + 60, args.tool_choice)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    # LiteLLM's OpenAI provider reads these on each call; the key is never checked locally.
    os.environ["OPENAI_API_BASE"] = f"http://127.0.0.1:{proxy.server_address[1]}/v1"
    os.environ.setdefault("OPENAI_API_KEY", "sk-local")
    env = {
        "SHIPPING_MODEL": args.model,
        "MODEL_TIMEOUT_S": str(args.model_timeout),
        "AGENT_TIMEOUT_S": str(args.model_timeout * 20),
        "MODEL_RETRIES": str(args.retries),
        "CIRCUIT_FAILURE_THRESHOLD": "1000",  # record what the model does, not a breaker's refusals
    }
    settings = Settings.from_env(env, agent_names=AGENT_NAMES)
    composition.configure_libraries()
    started = time.perf_counter()
    outcomes = asyncio.run(_run(settings, args.orders, args.rounds))
    proxy.shutdown()

    exchanges = proxy.exchanges
    recording = {
        "recorded": {
            "model": args.describe,
            "litellm_model": args.model,
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "orders": args.orders,
            "rounds": args.rounds,
            "settings": env,
            "tool_choice_sent_upstream": args.tool_choice,
            "wall_s": round(time.perf_counter() - started, 1),
            "outcomes": outcomes,
        },
        "exchanges": exchanges,
    }
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{args.name}.json"
    path.write_text(json.dumps(recording, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for exchange in exchanges:
        counts[shape(exchange)] = counts.get(shape(exchange), 0) + 1
    times = [e["elapsed_s"] for e in exchanges]
    print(f"\n{len(exchanges)} responses recorded to {path.relative_to(ROOT)}")
    print("shapes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"HTML-escaped text in {sum(escaped(e) for e in exchanges)}")
    if times:
        print(f"call time: median {statistics.median(times):.1f}s, max {max(times):.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
