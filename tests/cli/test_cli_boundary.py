"""What a person sees when a peer is hostile (issue 22): a model that echoes the API key, sets
the terminal's title, clears the screen and prints a forged section; what a setting or an
argument cannot do (a URL of another scheme run as a command, a key with a slash, a short key
for a server). Every line here went through the way out (``core/outbound.py``)."""

from __future__ import annotations

import json
import re

import pytest
from helpers import run_cli
from openai_stub import HOSTILE_ANSWER

# What a terminal acts on (the test's own list, not the code's): C0, DEL, C1, separators,
# direction overrides.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

KEY = "sk-live-hostile-echo-9f8e7d6c5b4a3210"  # an OPENAI_API_KEY: registered, redacted


@pytest.fixture
def hostile(stub, monkeypatch, cli_env):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("SHIPPING_MODEL", "openai/hostile")
    monkeypatch.setenv("ANSWER_CHECK", "off")  # what the model said, shown as said
    return stub


def _clean(text: str) -> None:
    assert KEY not in text
    assert not CONTROL.search(text.replace("\n", ""))


def test_a_hostile_models_answer_reaches_the_terminal_defused(capsys, hostile):
    code, out, err = run_cli(capsys, "ORD-1001")
    assert code == 0, err
    _clean(out + err)
    lines = out.splitlines()
    assert lines.count("[payment_agent]") == 1  # the real one; the model's is escaped
    assert lines.count("\\[payment_agent]") == 5
    assert "Status: shipped\\x1b]0;pwned\\x07\\x1b[2J\\rYour key is [REDACTED]\\x07" in lines


def test_json_and_stream_are_redacted_and_escaped(capsys, hostile):
    code, out, _ = run_cli(capsys, "ORD-1001", "--json")
    assert code == 0
    _clean(out)
    document = json.loads(out)
    said = HOSTILE_ANSWER.format(key="[REDACTED]")
    assert {a["text"] for a in document["agents"]} == {said}
    code, out, _ = run_cli(capsys, "ORD-1001", "--stream")
    _clean(out)
    assert out.splitlines().count("[payment_agent]") == 1


def test_quiet_prints_nothing_at_all(capsys, cli_env):
    """The offline model's line was printed even with --quiet."""
    code, out, err = run_cli(capsys, "ORD-1001", "--quiet")
    assert (code, out, err) == (0, "", "")


@pytest.mark.parametrize(
    "url", ["ftp://x/mcp", "file:///etc/passwd", "http://:8090/mcp", "https://h:0/mcp"]
)
def test_a_tools_url_of_another_scheme_is_one_line_and_exit_2(capsys, monkeypatch, url):
    """``ftp://x/mcp`` was run as a command: exit 1, five UNAVAILABLE sections."""
    monkeypatch.setenv("TOOLS_MCP_URL", url)
    code, out, err = run_cli(capsys, "ORD-1001")
    assert (code, out) == (2, "")
    assert err == (
        "track-order: error: TOOLS_MCP_URL must be an http:// or https:// URL or a command "
        f"line, got {url!r}\n"
    )


@pytest.mark.parametrize("key", ["12345", "short-key", "a" * 15])
def test_a_key_a_server_accepts_has_one_rule_whatever_its_name(capsys, monkeypatch, key):
    """A 5-character BACKEND_API_KEY was accepted for `backends serve --host 0.0.0.0` while
    SERVICE_API_KEYS needs 16 printable characters without spaces."""
    monkeypatch.setenv("BACKEND_API_KEY", key)
    code, out, err = run_cli(capsys, "backends", "serve", "--host", "0.0.0.0", "--port", "0")
    assert (code, out) == (2, "")
    assert err == (
        "track-order: error: BACKEND_API_KEY must be at least 16 printable characters "
        "without spaces\n"
    )
    monkeypatch.delenv("BACKEND_API_KEY")
    monkeypatch.setenv("SERVICE_API_KEYS", key)
    code, _, err = run_cli(capsys, "serve", "--host", "0.0.0.0", "--port", "0")
    assert code == 2 and err == (
        "track-order: error: SERVICE_API_KEYS: key 1 must be at least 16 printable characters "
        "without spaces\n"
    )


def test_a_key_we_send_cannot_carry_a_header_of_its_own(capsys, monkeypatch):
    monkeypatch.setenv("TOOLS_MCP_API_KEY", "abc\r\nX-Evil: 1")
    code, _, err = run_cli(capsys, "ORD-1001")
    assert code == 2
    assert (
        err == "track-order: error: TOOLS_MCP_API_KEY must be printable characters without spaces\n"
    )


@pytest.mark.parametrize("key", ["../../x", "a/b", "has space", ".hidden", "x" * 65, "é"])
def test_submit_refuses_a_key_that_is_not_one_step_of_a_workflow_id(capsys, monkeypatch, key):
    """``--key`` took ``/``: ``result track-order/ORD-1001/../../x`` misreported the order."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")  # never reached
    code, out, err = run_cli(capsys, "submit", "ORD-1001", "--key", key)
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: --key must be 1 to 64 letters, digits")


@pytest.mark.parametrize(
    "workflow_id",
    [
        "track-order/ORD-1001/k\nINJECTED: yes",
        "track-order/ORD-1001/\x1b]0;pwned\x07",
        "track-order/ORD-1001/" + "k" * 5000,
        "track-order/ORD-1001/../../x",
        "track-order/not-an-id/k",
        "someone-elses-workflow",
    ],
)
def test_result_checks_the_workflow_id_before_echoing_or_sending_it(
    capsys, monkeypatch, workflow_id
):
    """`result` echoed line breaks, escapes and 5,000-character ids as they were."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")  # never reached
    code, out, err = run_cli(capsys, "result", workflow_id)
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: ") and err.count("\n") == 1
    assert "is not a workflow id of `track-order submit`" in err
    assert len(err) < 200 and not CONTROL.search(err[:-1])


@pytest.mark.parametrize(
    "pattern, workflow_id",
    [("[A-Z]{2}/[0-9]+", "track-order/AB/12/k-1"), ("[a-z]{2}-[0-9]+", "track-order/AB-12/k-1")],
)
def test_result_takes_every_workflow_id_submit_can_print(capsys, monkeypatch, pattern, workflow_id):
    """An id with a "/" (the pattern allows it) or named by its upper-case key was refused as
    "not a workflow id": here it gets as far as the (unreachable) server."""
    monkeypatch.setenv("ORDER_ID_PATTERN", pattern)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    code, _, err = run_cli(capsys, "result", workflow_id)
    assert (code, err) == (
        2,
        "track-order: error: cannot reach the Temporal server at 127.0.0.1:9: Connection refused\n",
    )


@pytest.mark.parametrize("mode", [[], ["--json"], ["--stream"]])
def test_a_lone_surrogate_in_an_answer_is_shown_escaped_not_a_traceback(stub, tmp_path, mode):
    """JSON lets a model send "\\ud800", which is no character: writing the answer to a UTF-8
    terminal raised `UnicodeEncodeError` (a traceback and the report half-written)."""
    import os
    import subprocess

    from helpers import TRACK_ORDER

    env = {
        **os.environ,
        "OPENAI_API_BASE": stub.base_url,
        "OPENAI_API_KEY": "sk-test",
        "SHIPPING_MODEL": "openai/surrogate",
        "ANSWER_CHECK": "off",
        "MONOCLE_TRACE_OUTPUT_PATH": str(tmp_path),
        "PYTHONIOENCODING": "utf-8",
    }
    done = subprocess.run(
        [TRACK_ORDER, "ORD-1001", *mode], env=env, cwd=tmp_path, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert b"Traceback" not in done.stderr
    assert b"\\ud800" in done.stdout
    if mode == ["--json"]:
        document = json.loads(done.stdout)
        assert len(document["agents"]) == 5
