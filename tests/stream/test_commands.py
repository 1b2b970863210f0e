"""The commands' own checks, in process: options and settings refused with one line (exit 2)
before anything heavy starts, ``publish`` with a question, a broker nobody answers."""

from __future__ import annotations

import asyncio
import json

import pytest
from brokers import free_port, nats_messages
from helpers import run_cli
from stream_consumers import names


def test_publish_gives_each_event_its_own_id_and_keeps_the_question(nats_url, capsys):
    where = names("pub")
    code, out, err = run_cli(
        capsys, "publish", "ORD-1001", "ord-1001", "--question", "Where is it?",
        "--broker", nats_url, "--topic", where["topic"], "--json",
    )  # fmt: skip
    assert code == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [p["order_id"] for p in printed] == ["ORD-1001", "ORD-1001"]
    stored = [json.loads(body) for body, _ in asyncio.run(nats_messages(nats_url, where["topic"]))]
    assert [s["id"] for s in stored] == [p["event_id"] for p in printed]
    assert len({s["id"] for s in stored}) == 2
    assert {s["question"] for s in stored} == {"Where is it?"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["consume"], "give --broker URL (or set BROKER_URL)"),
        (["consume", "--broker", "http://x:1"], "--broker must be a broker URL"),
        (["consume", "--broker", "nats://x:1", "--topic", "a b"], "--topic must be"),
        (["consume", "--broker", "nats://x:1", "--results", "a..b"], "--results must be"),
        (["consume", "--broker", "nats://x:1", "--concurrency", "0"], "--concurrency must be"),
        (["consume", "--broker", "nats://x:1", "--exit-when-idle", "0"], "greater than 0"),
        (["consume", "--broker", "nats://x:1", "--metrics-host", "0.0.0.0", "--metrics-port", "0"],
         "without authentication"),
        (["consume", "--broker", "nats://x:1", "--dead-letter", "orders"], "must differ"),
        (["consume", "--broker", "nats://x:1", "--results", "in", "--topic", "in"], "must differ"),
        # One JetStream stream would hold both (stream names take no dots).
        (["consume", "--broker", "nats://x:1", "--dead-letter", "orders_results"], "must differ"),
        (["publish", "--broker", "nats://x:1"], "give at least one order id"),
        (["publish", "ORD-1", "X-1", "--broker", "nats://x:1"], "invalid order id 'X-1'"),
        (["publish", "ORD-1", "--broker", "nats://x:1", "--question", "a\nb"], "--question must"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("track-order: error: ") and message in err, err
    assert err.count("\n") == 1


def test_a_bad_broker_url_setting_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("BROKER_URL", "nats://h:port")
    code, _, err = run_cli(capsys, "publish", "ORD-1001")
    assert code == 2 and "BROKER_URL must be a broker URL" in err


@pytest.mark.parametrize(
    "url",
    [
        "nats://user:s3cretpw@127.0.0.1:notaport",
        "redis://:s3cretpw@[::1",
        "http://user:s3cretpw@h:1",
        "kafka://s3cretpw@h:1 x",
        "redis://h:99999/0?password=s3cretpw",
        "nats://u:s3c/ret://pw@h:x",  # not a URL a password can be in, yet typed
    ],
)
@pytest.mark.parametrize("where", ["--broker", "BROKER_URL"])
def test_a_bad_broker_url_never_echoes_its_password(capsys, monkeypatch, url, where):
    if where == "BROKER_URL":
        monkeypatch.setenv("BROKER_URL", url)
        code, out, err = run_cli(capsys, "publish", "ORD-1001")
    else:
        code, out, err = run_cli(capsys, "consume", "--broker", url)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "must be a broker URL" in err, err
    assert "s3c" not in err, err


def test_publish_to_a_broker_nobody_answers(capsys):
    url = f"nats://127.0.0.1:{free_port()}"
    code, out, err = run_cli(
        capsys, "publish", "ORD-1001", "--broker", url, "--connect-timeout", "1"
    )
    assert code == 2 and out == ""
    assert err.startswith(f"track-order: error: cannot publish to {url} (")
