"""The CLI as a real process: clean shutdown on signals, a hanging Okahu endpoint, and keys
that never show up in anything it writes. (Subprocesses: a few seconds of imports each.)"""

import json
import signal
import subprocess
import time

import pytest
from helpers import ARTICLE_ANSWERS, TRACK_ORDER, provider_env
from openai_stub import SilentServer

FAKE_OPENAI_KEY = "sk-FAKE-OPENAI-KEY-7f3a9c2d41"
FAKE_OKAHU_KEY = "okahu-FAKE-KEY-5b2e8f1c93"


def wait_for(condition, timeout_s=90.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


def process_env(tmp_path, stub, **extra):
    return provider_env(stub, tmp_path, "openai/healthy", key=FAKE_OPENAI_KEY) | extra


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_cleanly_keeping_what_finished(tmp_path, openai_stub, signum, code):
    openai_stub.reset()
    env = process_env(tmp_path, openai_stub, PAYMENT_AGENT_MODEL="openai/hang")
    proc = subprocess.Popen(
        [TRACK_ORDER, "ORD-1001"],
        env=env,
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Four agents have answered (two calls each) and the payment agent is stuck.
        wait_for(lambda: openai_stub.count("hang") >= 1 and openai_stub.count("healthy") >= 8)
        time.sleep(1.0)  # the last answer has arrived: give the process time to record it
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code
    assert err == f"Interrupted by {signal.Signals(signum).name}.\n"  # no traceback
    assert "[payment_agent]\nCANCELLED: stopped before it finished\n" in out
    for agent, answer in ARTICLE_ANSWERS.items():
        if agent != "payment_agent":
            assert f"[{agent}]\n{answer}\n" in out
    trace_line = out.strip().splitlines()[-1]
    assert trace_line.startswith("Traces written to: ")
    trace = json.loads((tmp_path / trace_line.removeprefix("Traces written to: ")).read_text())
    assert any(s["attributes"].get("span.type") == "workflow" for s in trace)


def _timed_run(tmp_path, env):
    start = time.monotonic()
    proc = subprocess.run(
        [TRACK_ORDER, "ORD-1001", "--verbose"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, time.monotonic() - start


def test_a_hanging_okahu_never_holds_the_exit_and_no_key_is_ever_written(tmp_path, openai_stub):
    openai_stub.reset()
    # PAYMENT_AGENT_MODEL=auth: an error path too, with its messages and (--verbose) logs.
    base = process_env(tmp_path, openai_stub, PAYMENT_AGENT_MODEL="openai/auth")
    with SilentServer() as okahu:
        env = dict(
            base,
            OKAHU_API_KEY=FAKE_OKAHU_KEY,
            OKAHU_INGESTION_ENDPOINT=okahu.url,
            OKAHU_EXPORT_TIMEOUT_S="1",
        )
        proc, elapsed = _timed_run(tmp_path, env)
        assert okahu.connections >= 1  # it really tried to upload
        assert okahu.all_closed()  # the process has exited: nothing of it holds on
    assert proc.returncode == 1, proc.stderr  # the payment agent is degraded
    assert "DEGRADED: every model failed (AuthenticationError" in proc.stdout
    # Monocle's own upload timeout is 15 s (measured: ~14 s more than without Okahu); bounded
    # to 1 s, a silent Okahu costs a couple of seconds at most. Judged by how long the process
    # held Okahu's connection (it lets go when it gives up or exits), not by comparing two
    # processes' wall-clock times: on a loaded machine those differed by 8 to 11 s by noise.
    assert max(okahu.held_s) < 10, (okahu.held_s, elapsed)
    files = list((tmp_path / "traces").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())  # the local trace is intact
    written = [proc.stdout, proc.stderr, files[0].read_text()]
    written += [json.dumps(r["body"]) for r in openai_stub.requests]
    # The stub's 401 echoes the key masked, as OpenAI does ("sk-FAKE-**********2d41"):
    # not even such a fragment may be written.
    assert "Incorrect API key provided: [REDACTED]" in proc.stdout
    for marker in (
        "FAKE-OPENAI",
        "sk-FAKE",
        "okahu-FAKE",
        FAKE_OPENAI_KEY[-6:],
        FAKE_OKAHU_KEY[-6:],
    ):
        leaks = [text[max(0, text.find(marker) - 60) :][:120] for text in written if marker in text]
        assert not leaks, (marker, leaks[:3])
