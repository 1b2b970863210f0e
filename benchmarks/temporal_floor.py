"""What Temporal itself costs per order, with no agent in it: ``uv run --group temporal-server
python -m benchmarks.temporal_floor [--orders N]``.

The same workflow (``TrackOrderWorkflow``: five activities per order, the same timeouts,
heartbeat and retry policy, the same sandbox) on a worker process whose activity returns a
canned answer at once, untraced. Its CPU per order is the floor under the worker CPU of
``benchmarks.temporal``: what the SDK, the sandbox and the payload conversion cost; the rest is
the agent runs and their tracing, which the in-process run pays too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from temporal_server import DevServer  # noqa: E402
from temporalio import activity  # noqa: E402

from benchmarks.temporal import cpu_s  # noqa: E402
from order_tracking.temporal import AgentData, AgentRequest  # noqa: E402
from order_tracking.temporal._workflow import ACTIVITY  # noqa: E402


@activity.defn(name=ACTIVITY)
async def run_agent(request: AgentRequest) -> AgentData:
    activity.heartbeat()  # as the real activity does once at its start
    return AgentData(request.agent, "ok", "canned", None, 0.0, ["tool"], 500, 0.0, 2)


async def worker(address: str, queue: str) -> None:
    from temporalio.worker import Worker

    from order_tracking.temporal import TrackOrderWorkflow, sandbox
    from order_tracking.temporal._client import connect

    client = await connect(address, "default", traced=False)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TrackOrderWorkflow],
        workflow_runner=sandbox(),
        activities=[run_agent],
        max_concurrent_activities=100,
    ):
        print("ready", flush=True)
        await asyncio.Event().wait()


async def drive(address: str, queue: str, orders: int, pid: int) -> None:
    from order_tracking.agents.specialists import SPECIALIST_NAMES
    from order_tracking.temporal import OrderRequest, connect, report, submit

    client = await connect(address, "default", traced=False)
    before, start = cpu_s(pid), time.perf_counter()
    handles = [
        await submit(
            client,
            OrderRequest("ORD-1001", list(SPECIALIST_NAMES), 60),
            key=uuid.uuid4().hex,
            task_queue=queue,
            priority=3,
        )
        for _ in range(orders)
    ]
    await asyncio.gather(*(report(h, "ORD-1001") for h in handles))
    wall = time.perf_counter() - start
    print(
        f"{orders} orders, no agent: worker CPU {1000 * (cpu_s(pid) - before) / orders:.0f} "
        f"ms/order, {5 * orders / wall:.1f} activities/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--worker", nargs=2, metavar=("ADDRESS", "QUEUE"))
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(*args.worker))
        return
    with DevServer(Path(tempfile.mkdtemp(prefix="bench-floor-"))) as server:
        queue = f"floor-{uuid.uuid4().hex[:8]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.temporal_floor", "--worker", server.address, queue],
            stdout=subprocess.PIPE,
            env=dict(os.environ, ADK_DISABLE_LOAD_DOTENV="1"),
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
            asyncio.run(drive(server.address, queue, args.orders, proc.pid))
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
