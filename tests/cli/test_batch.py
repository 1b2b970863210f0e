"""Several orders at once, streaming, JSON, quiet, progress: the CLI's output modes."""

import asyncio
import json
import os
import pty
import re
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from google.adk.models.base_llm import BaseLlm
from helpers import AGENT_FIELDS, ARTICLE_ANSWERS, EXPECTED_BODY, ORDER_FIELDS, TRACK_ORDER, run_cli

from order_tracking.agents.build import build_order_agents
from order_tracking.async_runner import track_orders
from order_tracking.core.results import RunLimits
from order_tracking.core.settings import Settings
from order_tracking.models.gateway import litellm_models


def test_stream_prints_each_result_as_it_arrives_slowest_last(capsys, cli_env, stub, monkeypatch):
    monkeypatch.setenv("PAYMENT_AGENT_MODEL", "openai/slow-0.5")
    code, out, err = run_cli(capsys, "--stream", "ORD-1001")
    assert code == 0
    sections = re.findall(r"^\[(\w+)\]$", out, re.M)
    assert sorted(sections) == sorted(ARTICLE_ANSWERS) and sections[-1] == "payment_agent"
    assert out.startswith("=== Order Tracking Results for ORD-1001 ===\n\n[")
    assert f"[payment_agent]\n{ARTICLE_ANSWERS['payment_agent']}\n\nWall-clock time: " in out
    assert re.search(r"\nTraces written to: \S+\.json\n\Z", out)


def test_a_batch_prints_every_report_then_a_summary_table(capsys, cli_env, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("# today's orders\nORD-1002\n\nord-1003  # delivered\n")
    code, out, err = run_cli(capsys, "ORD-1001", "--file", str(ids))
    assert code == 0 and err == ""  # not a terminal: no progress line
    assert EXPECTED_BODY in out
    for order in ("ORD-1001", "ORD-1002", "ORD-1003"):
        assert out.count(f"=== Order Tracking Results for {order} ===") == 1
    table = out[out.index("order     ok") :]
    lines = table.splitlines()
    assert lines[0].split() == ["order", "ok", "failed", "wall", "s", "tokens", "cost", "$"]
    assert sorted(line.split()[:3] for line in lines[2:5]) == [  # in the order they completed
        ["ORD-1001", "5", "0"],
        ["ORD-1002", "5", "0"],
        ["ORD-1003", "5", "0"],
    ]
    assert lines[-1].split()[:4] == ["3", "orders", "15", "0"]


def test_json_is_one_object_per_order_and_nothing_else(capsys, cli_env):
    code, out, err = run_cli(capsys, "--json", "ORD-1001", "ORD-9999")
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]  # every stdout line is JSON
    assert sorted(o["order_id"] for o in objects) == ["ORD-1001", "ORD-9999"]
    for order in objects:
        assert set(order) == ORDER_FIELDS
        assert isinstance(order["wall_s"], float) and order["wall_s"] > 0
        assert Path(order["trace_file"]).is_file()
        assert [a["agent"] for a in order["agents"]] == list(ARTICLE_ANSWERS)
        for agent in order["agents"]:
            assert set(agent) == set(AGENT_FIELDS)
            for name, kind in AGENT_FIELDS.items():
                assert isinstance(agent[name], kind), (name, agent[name])
            assert agent["ok"] and agent["status"] == "ok" and agent["error"] is None
            assert agent["tokens"] > 0 and agent["tool_calls"]
    by_id = {o["order_id"]: o for o in objects}
    assert {a["agent"]: a["text"] for a in by_id["ORD-1001"]["agents"]} == ARTICLE_ANSWERS
    assert {a["text"] for a in by_id["ORD-9999"]["agents"]} == {"Order ORD-9999 not found."}


def test_json_reports_failures_as_data_and_exits_1(capsys, cli_env, stub, monkeypatch):
    monkeypatch.setenv("PAYMENT_AGENT_MODEL", "openai/auth")
    code, out, _ = run_cli(capsys, "--json", "ORD-1001")
    assert code == 1
    (order,) = [json.loads(line) for line in out.splitlines()]
    payment = next(a for a in order["agents"] if a["agent"] == "payment_agent")
    assert (payment["ok"], payment["status"]) == (False, "degraded")
    assert payment["error"].startswith("every model failed (AuthenticationError")


def test_quiet_prints_nothing_and_the_exit_code_tells(capsys, cli_env):
    assert run_cli(capsys, "--quiet", "ORD-1001", "ORD-1002") == (0, "", "")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stream", "--json", "ORD-1001"], "choose one of --stream, --json and --quiet"),
        (["ORD-1001", "nope"], "invalid order id 'nope': expected ORD- followed by digits"),
        (["--concurrency", "0", "ORD-1001"], "--concurrency must be at least 1, got 0"),
        (["--file", "/no/such/file"], "No such file or directory"),
    ],
)
def test_bad_batch_input_is_refused_before_anything_runs(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: ") and message in err and err.count("\n") == 1


def test_a_bad_line_in_the_file_is_named(capsys, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("ORD-1001\nORD-1002x\n")
    code, _, err = run_cli(capsys, "--file", str(ids))
    assert code == 2 and f"{ids}, line 2: invalid order id 'ORD-1002x'" in err


async def test_the_concurrency_limit_is_respected_across_orders(stub):
    models = litellm_models(Settings(default_model="openai/slow-0.2"))
    agents = build_order_agents(models)
    ids = ["ORD-1001", "ORD-1002", "ORD-1003"]
    summary = await track_orders(ids, agents, concurrency=3, limits=RunLimits())
    assert summary.all_ok and summary.orders == 3 and stub.count("slow-0.2") == 30
    assert stub.max_in_flight("slow-0.2") == 3  # never more, and it did reach the limit
    stub.reset()
    await track_orders(ids, agents, concurrency=15, limits=RunLimits())
    assert stub.max_in_flight("slow-0.2") > 3  # the limit, not something else, held it at 3


def test_progress_is_drawn_only_on_a_terminal(tmp_path):
    # A real pseudo-terminal as stderr: the one case that needs a process of its own.
    leader, follower = pty.openpty()
    env = dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path))
    proc = subprocess.run(
        [TRACK_ORDER, "ORD-1001", "ORD-1002"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert b"10/10 agent runs, 2 orders done" in drawn
    assert b"agent runs" not in proc.stdout  # the report itself stays clean


class SlowOn(BaseLlm):
    """``inner``, after ``delay_s`` when the question is about ``order_id``."""

    inner: BaseLlm
    order_id: str
    delay_s: float

    async def generate_content_async(self, llm_request, stream=False):
        if self.order_id in str(llm_request.contents):
            await asyncio.sleep(self.delay_s)
        async for response in self.inner.generate_content_async(llm_request, stream):
            yield response


class TracingFails:
    """Tracing that raises when an order waits for its trace: a bug in our code, say (a full
    disk is reported, not raised). The order that gets there first raises."""

    @contextmanager
    def trace(self, name, attributes):
        yield "0" * 32

    async def written(self, trace_id):
        raise OSError("No space left on device")

    def file_for(self, trace_id):
        return None


async def test_an_order_that_raises_stops_its_batch_and_leaves_nothing_running(models):
    agents = build_order_agents(
        lambda n: SlowOn(model="slow", inner=models(n), order_id="ORD-1002", delay_s=0.4)
    )
    after_the_error = []
    raised = False

    def on_result(order_id, result):
        if raised:
            after_the_error.append((order_id, result.agent))

    with pytest.raises(ExceptionGroup) as caught:
        await track_orders(
            ["ORD-1001", "ORD-1002"],
            agents,
            TracingFails(),
            limits=RunLimits(),
            on_result=on_result,
        )
    raised = True
    assert caught.group_contains(OSError, match="No space left on device")
    await asyncio.sleep(1.5)  # two calls of 0.4 s: ORD-1002 would have answered, had it run on
    assert after_the_error == []


async def test_a_batch_streams_its_ids_with_a_bounded_number_of_orders_in_flight(models):
    """Ids are taken only as orders finish: never more than --concurrency orders started and
    unfinished, however long the batch; the summary is all that is kept."""
    taken, done = [], []

    def ids():
        for n in range(40):
            taken.append(n)
            yield ("ORD-1001", "ORD-1002", "ORD-1003")[n % 3]

    def on_report(report):
        done.append(report)
        assert len(taken) - len(done) <= 4  # the ones in flight, and the next one waiting

    summary = await track_orders(
        ids(), build_order_agents(models), concurrency=3, limits=RunLimits(), on_report=on_report
    )
    assert (summary.orders, summary.answered, summary.failed) == (40, 200, 0)
    assert summary.all_ok and len(summary.rows) == len(done) == 40


def test_the_summary_lists_orders_up_to_a_hundred_then_only_totals():
    from order_tracking.core.report import render_summary
    from order_tracking.core.results import (
        SUMMARY_ROWS,
        AgentResult,
        BatchSummary,
        OrderReport,
        Status,
    )

    summary = BatchSummary()
    result = AgentResult("a", Status.OK, "x", None, 0.1, tokens=7)
    for n in range(SUMMARY_ROWS + 1):
        summary.add(OrderReport(f"ORD-{n}", (result, result), 0.2))
        assert len(summary.rows) == (n + 1 if n < SUMMARY_ROWS else 0)
    table = render_summary(summary).splitlines()
    assert table[-1].split() == ["101", "orders", "202", "0", "1414", "0.0000"]
    assert len(table) == 4  # header, rule, rule, totals: no per-order rows past the limit
