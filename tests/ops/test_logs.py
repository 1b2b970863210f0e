"""`LOG_FORMAT=json`: one JSON object per stderr line, with the order, the agent and the trace
id of the run; secrets redacted; the human format unchanged by default."""

from __future__ import annotations

import json
import logging
import re

import pytest
from helpers import run_cli
from hypothesis import given
from hypothesis import strategies as st

from order_tracking.composition import build, production_models
from order_tracking.core.redaction import register_secret_values
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.ops.logs import JsonFormatter, configure_logging, log_context, say

SECRET = "sk-live-LOGSECRET-0123456789"


@pytest.fixture(autouse=True)
def _restore_logging():
    """What configure_logging changes, put back: the root's handlers and levels."""
    root = logging.getLogger()
    handlers, levels = list(root.handlers), {}
    names = ["", "order_tracking", "LiteLLM", "google_adk", "monocle_apptrace"]
    levels = {name: logging.getLogger(name).level for name in names}
    litellm = logging.getLogger("LiteLLM")
    litellm_handlers, litellm_propagate = list(litellm.handlers), litellm.propagate
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    litellm.handlers[:] = litellm_handlers
    litellm.propagate = litellm_propagate
    logging.captureWarnings(False)
    configure_logging("host")  # nothing; and the JSON switch off for the next test:
    import order_tracking.ops.logs as logs

    logs._json_active = False


def json_lines(err: str) -> list[dict]:
    lines = err.splitlines()
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line parses, or this fails


def test_a_run_logs_json_lines_carrying_its_order_agent_and_trace_id(capsys, cli_env, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.delenv("SHIPPING_MODEL")  # the offline model as the fallback: a note is logged
    code, out, err = run_cli(capsys, "ORD-1001")
    assert code == 0
    records = json_lines(err)
    trace_id = re.search(r"monocle_trace_order_tracking_asyncio_([0-9a-f]{32})_", out).group(1)
    # The note that the offline model is in use is a record too, not a bare line.
    assert records[0]["message"].startswith("No SHIPPING_MODEL and no OPENAI_API_KEY set")
    finished = [r for r in records if r["message"].startswith("agent finished: ok in ")]
    assert sorted(r["agent"] for r in finished) == sorted(
        [
            "order_status_agent",
            "shipping_agent",
            "inventory_agent",
            "payment_agent",
            "support_agent",
        ]
    )
    for record in finished:
        assert (record["level"], record["logger"]) == ("INFO", "order_tracking.runner")
        assert (record["order_id"], record["trace_id"]) == ("ORD-1001", trace_id)
        assert set(record) >= {"time", "span_id"}
    (done,) = [r for r in records if r["message"].startswith("order done")]
    assert done == done | {"message": "order done: 5 of 5 agents answered", "trace_id": trace_id}
    assert "agent" not in done


def test_by_default_stderr_has_no_json_and_no_log_lines(capsys, cli_env, monkeypatch):
    monkeypatch.delenv("SHIPPING_MODEL")
    code, _, err = run_cli(capsys, "ORD-1001")
    assert code == 0
    assert err.startswith("No SHIPPING_MODEL") and err.count("\n") == 1


async def test_a_failing_provider_logs_a_warning_in_the_trace_of_its_order(tracing, stub, capsys):
    """The circuit opening is logged (WARNING) inside the order whose call opened it: the
    record names the agent and carries that order's trace id."""
    settings = Settings(
        default_model=OFFLINE_MODEL,
        model_overrides={"payment_agent": "openai/broken"},
        model_retries=0,
        circuit_threshold=1,
        circuit_cooldown_s=3600,
        log_format="json",
    )
    configure_logging("quiet", "json")
    tracker = build(settings, models=production_models(settings))
    capsys.readouterr()
    report = await tracker.track_order("ORD-1002")
    records = json_lines(capsys.readouterr().err)
    trace_id = re.search(r"_([0-9a-f]{32})_", report.trace_file.name).group(1)
    (circuit,) = [r for r in records if r["message"].startswith("circuit for openai/broken")]
    assert circuit["level"] == "WARNING"
    assert (circuit["order_id"], circuit["agent"], circuit["trace_id"]) == (
        "ORD-1002",
        "payment_agent",
        trace_id,
    )
    (payment,) = [
        r for r in records if r.get("agent") == "payment_agent" and "finished" in r["message"]
    ]
    assert payment["message"].startswith("agent finished: degraded in ")  # fmt: skip


def test_secrets_are_redacted_in_json_records(capsys):
    register_secret_values([SECRET])
    configure_logging("quiet", "json")
    with log_context(order_id="ORD-7", agent="payment_agent"):
        logging.getLogger("order_tracking.test").warning("provider said %s", f"bad key {SECRET}")
        try:
            raise RuntimeError(f"Incorrect API key provided: {SECRET}")
        except RuntimeError:
            logging.getLogger("order_tracking.test").exception("call failed")
    records = json_lines(capsys.readouterr().err)
    assert SECRET not in json.dumps(records)
    assert records[0]["message"] == "provider said bad key [REDACTED]"
    assert (records[0]["order_id"], records[0]["agent"]) == ("ORD-7", "payment_agent")
    assert "Incorrect API key provided: [REDACTED]" in records[1]["exception"]
    assert "trace_id" not in records[0]  # logged outside any trace


def test_configuring_twice_writes_each_record_once(capsys):
    configure_logging("quiet", "json")
    configure_logging("quiet", "json")
    logging.getLogger("order_tracking.test").info("once")
    assert len(json_lines(capsys.readouterr().err)) == 1
    configure_logging("quiet", "text")  # back to the human format: no JSON handler left
    logging.getLogger("order_tracking.test").critical("plain")
    assert not capsys.readouterr().err.startswith("{")


@given(message=st.text(), args=st.lists(st.text() | st.integers(), max_size=3))
def test_any_message_is_one_line_of_valid_json(message, args):
    """Control characters, quotes, newlines, stray % signs: always one parseable line."""
    record = logging.LogRecord("order_tracking.x", logging.INFO, __file__, 1, message, None, None)
    record.args = tuple(args) or None
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "INFO" and isinstance(parsed["message"], str)


def test_a_bad_log_format_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "yaml")
    assert run_cli(capsys, "ORD-1001") == (
        2,
        "",
        "track-order: error: LOG_FORMAT must be one of text, json, got 'yaml'\n",
    )


def test_text_verbose_is_the_old_format_and_json_replaces_it(capsys):
    """``-v`` in the human format is what ``logging.basicConfig`` gave (when nothing else
    handles the root); switching to JSON leaves one handler, the JSON one."""
    root = logging.getLogger()
    root.handlers[:] = []
    configure_logging("verbose")
    logging.getLogger("dotenv.main").warning("could not parse statement")
    assert capsys.readouterr().err == "WARNING dotenv.main: could not parse statement\n"
    configure_logging("verbose", "json")
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonFormatter)
    logging.getLogger("dotenv.main").warning("could not parse statement")
    (record,) = json_lines(capsys.readouterr().err)
    assert (record["logger"], record["message"]) == ("dotenv.main", "could not parse statement")


def test_with_json_every_stderr_line_of_ours_and_the_libraries_is_a_record(capsys):
    import warnings

    from order_tracking.ops import lifecycle

    litellm = logging.getLogger("LiteLLM")
    litellm.addHandler(logging.StreamHandler())  # as LiteLLM does when imported
    litellm.setLevel(logging.NOTSET)  # an earlier quiet set-up in this process silenced it
    configure_logging("verbose", "json")
    lifecycle.warn_trace_files("cannot write to .monocle/: No space left on device")
    say("Serving on http://127.0.0.1:8080 (API docs at /docs)")
    litellm.warning("provider said hello")
    warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
    records = json_lines(capsys.readouterr().err)  # fails on any line that is not JSON
    assert [(r["level"], r["message"][:30]) for r in records[:3]] == [
        ("WARNING", "Warning: trace files were not "),
        ("INFO", "Serving on http://127.0.0.1:80"),
        ("WARNING", "provider said hello"),
    ]
    assert len(records) == 4 and "a library's deprecation" in records[3]["message"]
    configure_logging("quiet", "text")
    say("Serving on http://127.0.0.1:8080 (API docs at /docs)")
    assert capsys.readouterr().err == "Serving on http://127.0.0.1:8080 (API docs at /docs)\n"


def test_data_import_with_json_logs_writes_only_records(capsys, monkeypatch, tmp_path):
    """`track-order data import`'s summary lines were plain text among JSON records."""
    source, db = tmp_path / "orders.jsonl", tmp_path / "orders.db"
    assert run_cli(capsys, "data", "generate", "3", "-o", str(source))[0] == 0
    monkeypatch.setenv("LOG_FORMAT", "json")
    code, out, err = run_cli(capsys, "data", "import", str(source), "--db", str(db))
    configure_logging("quiet", "text")  # as every other test here finds it
    assert (code, out) == (0, "")
    records = json_lines(err)  # fails on any line that is not JSON
    assert [r["message"][:9] for r in records] == ["Imported ", "Use it wi"]


def test_a_peers_text_in_a_log_line_cannot_act_on_the_terminal_or_forge_a_line(capsys):
    """A backend's error quoted in a warning (``%s``) carried its escape sequences and line
    breaks to the operator's terminal; now every log line leaves through the way out."""
    root = logging.getLogger()
    root.handlers[:] = []
    configure_logging("verbose")
    peer = "down\x1b]0;pwned\x07\x1b[2J\nWARNING order_tracking.cli: all good\r"
    logging.getLogger("order_tracking.tools").warning("get_order_status: %s", peer)
    try:
        raise RuntimeError(f"boom\x1b[2J{SECRET}")
    except RuntimeError:
        logging.getLogger("order_tracking.tools").exception("call failed")
    err = capsys.readouterr().err
    first, *rest = err.splitlines()
    assert first == (
        "WARNING order_tracking.tools: get_order_status: down\\x1b]0;pwned\\x07\\x1b[2J"
        "\\nWARNING order_tracking.cli: all good\\r"
    )
    assert "\x1b" not in err and "\r" not in err and SECRET not in err
    assert rest[0] == "ERROR order_tracking.tools: call failed" and rest[1].startswith("Traceback")
    configure_logging("quiet", "json")
    logging.getLogger("order_tracking.tools").warning("said %s", "a\x9b2Jb\u202ec")
    line = capsys.readouterr().err
    assert "\x9b" not in line and "\u202e" not in line
    assert json_lines(line)[0]["message"] == "said a\x9b2Jb\u202ec"


def test_say_is_one_line_whatever_it_quotes(capsys):
    say(f"Serving on http://h\x1b[2J\n{SECRET}")
    assert capsys.readouterr().err == "Serving on http://h\\x1b[2J\\n[REDACTED]\n"
