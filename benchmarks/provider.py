"""An OpenAI-compatible chat-completions server for benchmarks, on 127.0.0.1, in its own process.

Plain asyncio streams rather than ``http.server``: keep-alive connections without Nagle stalls
(TCP_NODELAY), a listen backlog large enough for hundreds of connections at once, and no
thread per request. The model name sets the latency: ``lat-0.3`` answers after 0.3 s, any
other name at once. Answers come from the offline model's policy (``decide``, with the
specialists' answer formats), so agents call their tools and phrase the same answers as
offline. ``GET /stats`` tells the most requests it
was answering at once since the previous ``/stats`` (so a hidden client-side connection cap
shows), and resets that figure.

    python -m benchmarks.provider [--port P]     prints "listening on PORT", then serves
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import uuid
from typing import Any

from order_tracking.agents.specialists import ANSWER_FORMATS
from order_tracking.models.offline import decide

_LATENCY = re.compile(r"lat-([0-9.]+)")
USAGE = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
_stats = {"in_flight": 0, "max_in_flight": 0, "requests": 0}


def completion(body: dict[str, Any]) -> dict[str, Any]:
    reply = decide(body.get("messages", []), body.get("tools"), ANSWER_FORMATS)
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for name, args in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": USAGE,
    }


async def _answer(body: dict[str, Any]) -> bytes:
    _stats["in_flight"] += 1
    _stats["requests"] += 1
    _stats["max_in_flight"] = max(_stats["max_in_flight"], _stats["in_flight"])
    try:
        latency = _LATENCY.fullmatch(str(body.get("model", "")))
        if latency:
            await asyncio.sleep(float(latency.group(1)))
        return json.dumps(completion(body)).encode()
    finally:
        _stats["in_flight"] -= 1


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:  # one request after another on a kept-alive connection
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            raw = await reader.readexactly(int(headers.get("content-length", 0)))
            if lines[0].startswith("GET /stats"):
                payload = json.dumps(_stats).encode()
                _stats.update(max_in_flight=_stats["in_flight"], requests=0)
            else:
                payload = await _answer(json.loads(raw))
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed the connection
    finally:
        writer.close()


async def serve(port: int = 0) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=4096)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))
