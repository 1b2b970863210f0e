"""`--workers N`: a batch spread over forked worker processes. These run in processes of their
own: forking is only done from a process with a single thread, which pytest's is not."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import ARTICLE_ANSWERS, TRACK_ORDER, load_trace, provider_env, run_track_order
from hypothesis import given
from hypothesis import strategies as st

from order_tracking.cli.pool import split


def test_a_batch_over_two_workers_gives_every_order_its_answers_and_trace(tmp_path):
    ids = ["ORD-1001", "ORD-1002", "ORD-1003", "ORD-1001", "ORD-9999"]
    env = dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path / "traces"))
    proc = run_track_order("--workers", "2", "--json", *ids, env=env, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    orders = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(o["order_id"] for o in orders) == sorted(ids)  # each order once, even repeats
    for order in orders:
        assert [a["agent"] for a in order["agents"]] == list(ARTICLE_ANSWERS)
        assert all(a["ok"] for a in order["agents"])
        spans = load_trace(tmp_path / order["trace_file"])  # one complete trace per order
        (root,) = [s for s in spans if s["parent_id"] is None]
        assert root["attributes"]["order_id"] == order["order_id"]
    first = next(o for o in orders if o["order_id"] == "ORD-1001")
    assert {a["agent"]: a["text"] for a in first["agents"]} == ARTICLE_ANSWERS
    assert len({o["trace_file"] for o in orders}) == len(ids)


CRASHING_WORKER = textwrap.dedent(
    """
    import asyncio, json, os, signal, sys, time
    import order_tracking
    from google.adk.models.base_llm import BaseLlm
    from order_tracking import composition
    from order_tracking.core.settings import OFFLINE_MODEL, Settings
    from order_tracking.agents.specialists import SPECIALIST_NAMES
    from order_tracking.cli.pool import Pool


    class DiesOnOrder1002(BaseLlm):
        inner: BaseLlm

        async def generate_content_async(self, llm_request, stream=False):
            if "ORD-1002" in str(llm_request.contents):
                # Never answers: the parent kills this worker once the order's other four
                # agents have answered (a timer here lost the race on a loaded machine).
                with open(PID_FILE + ".tmp", "w") as f:
                    f.write(str(os.getpid()))
                os.replace(PID_FILE + ".tmp", PID_FILE)
                await asyncio.sleep(3600)
            async for response in self.inner.generate_content_async(llm_request, stream):
                yield response


    def kill_after_four(order_id, result):
        arrived.append(order_id)
        if order_id == "ORD-1002" and arrived.count("ORD-1002") == 4:
            for _ in range(600):  # written at the payment agent's first call: long since
                if os.path.exists(PID_FILE):
                    break
                time.sleep(0.1)
            os.kill(int(open(PID_FILE).read()), signal.SIGKILL)


    def build(settings):
        models = composition.production_models(settings)
        def model(name):
            if name == "payment_agent":
                return DiesOnOrder1002(model="dies", inner=models(name))
            return models(name)
        return composition.build(settings, models=model, traced=False)


    PID_FILE, arrived = os.path.abspath("dying-worker.pid"), []
    settings = Settings(default_model=OFFLINE_MODEL)
    asyncio.run(composition.warm_up())
    ids = ["ORD-1001", "ORD-1002", "ORD-1003"]  # worker 0: 1001 and 1003, worker 1: 1002
    pool = Pool(settings, 2, concurrency=10, orders=len(ids), build=build)
    reports = {}
    summary = asyncio.run(
        pool.collect(
            ids,
            SPECIALIST_NAMES,
            on_result=kill_after_four,
            on_report=lambda r: reports.setdefault(r.order_id, r),
        )
    )
    assert summary.orders == 3 and not summary.all_ok
    print(json.dumps([[i, [[a.agent, a.status, a.error, a.text] for a in reports[i].results]]
                      for i in ids]))
    """
)


def test_a_worker_that_dies_loses_nothing_that_arrived_and_reports_the_rest(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    reports = dict(json.loads(proc.stdout))
    assert list(reports) == ["ORD-1001", "ORD-1002", "ORD-1003"]
    for order_id in ("ORD-1001", "ORD-1003"):  # worker 0's orders are untouched
        assert {status for _, status, _, _ in reports[order_id]} == {"ok"}
    died = {agent: (status, error, text) for agent, status, error, text in reports["ORD-1002"]}
    assert died.pop("payment_agent") == (
        "error",
        "worker 1 died (killed by SIGKILL) before this agent answered",
        "",
    )
    # What had arrived from the dead worker is kept.
    assert {agent: status for agent, (status, _, _) in died.items()} == {
        "order_status_agent": "ok",
        "shipping_agent": "ok",
        "inventory_agent": "ok",
        "support_agent": "ok",
    }
    assert died["shipping_agent"][2] == "Not shipped yet: no carrier or tracking number assigned"


@given(
    orders=st.one_of(st.none(), st.integers(min_value=1, max_value=500)),
    workers=st.integers(min_value=1, max_value=64),
    concurrency=st.integers(min_value=1, max_value=200),
)
def test_workers_share_the_concurrency_exactly(orders, workers, concurrency):
    slots = split(workers, concurrency, orders)
    assert 1 <= len(slots) <= min(workers, concurrency, orders or workers)
    assert sum(slots) == concurrency  # the total is the total
    assert min(slots) >= 1 and max(slots) - min(slots) <= 1  # shared out evenly


def test_more_workers_than_the_concurrency_never_exceed_it_at_the_provider(tmp_path, stub):
    """`--workers 4 --concurrency 2`: two agent runs at the provider at most, all answered."""
    env = provider_env(stub, tmp_path, "openai/slow-0.2")
    ids = ["ORD-1001", "ORD-1002", "ORD-1003", "ORD-1001"]
    proc = run_track_order(
        "--workers", "4", "--concurrency", "2", "--quiet", *ids, env=env, cwd=tmp_path
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert stub.count("slow-0.2") == 4 * 5 * 2
    assert stub.max_in_flight("slow-0.2") == 2


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path, stub):
    env = provider_env(stub, tmp_path, "openai/hang")
    parent = subprocess.Popen(
        [TRACK_ORDER, "--workers", "2", "--quiet", "ORD-1001", "ORD-1002"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while stub.count("hang") < 10:  # both workers busy: every agent waiting on the provider
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.1)
        workers = _children(parent.pid)
        assert len(workers) == 2 and all(_alive(w) for w in workers)
        parent.kill()  # as the OOM killer would: no handler runs, nothing is cleaned up
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, "a worker outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
