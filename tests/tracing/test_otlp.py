"""`MONOCLE_EXPORTERS=file,otlp`: the order's trace, the same tree as the local file, arrives
at an OTLP/HTTP collector (a receiver on loopback decoding the protobuf); a collector that
never answers costs the run nothing and the exit a bounded time, and the local file is whole.
(Subprocesses: the exporters are chosen once per process, at start-up.)"""

from __future__ import annotations

import json
import re
import threading

import pytest
from helpers import ARTICLE_ANSWERS, run_cli, run_track_order
from openai_stub import SilentServer
from opentelemetry.sdk.trace import SpanProcessor
from otlp_receiver import OtlpReceiver

from order_tracking.core.settings import ConfigError, Settings
from order_tracking.tracing.exporters import Bounded, remote_processors

TEAM_KEY = "team-key-3f9a1c7e5b2d"


def env_for(tmp_path, **extra: str) -> dict[str, str]:
    import os

    return dict(os.environ, MONOCLE_TRACE_OUTPUT_PATH=str(tmp_path / "traces"), **extra)


def local_trace(out: str, tmp_path) -> tuple[str, list[dict]]:
    path = re.search(r"Traces written to: (\S+)", out).group(1)
    trace = json.loads((tmp_path / path).read_text())
    return trace[0]["context"]["trace_id"], trace


def test_the_orders_trace_arrives_at_an_otlp_collector_as_the_same_tree(tmp_path):
    with OtlpReceiver() as collector:
        proc = run_track_order(
            "ORD-1001",
            env=env_for(
                tmp_path,
                MONOCLE_EXPORTERS="file,otlp",
                OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
                OTEL_EXPORTER_OTLP_HEADERS=f"x-team={TEAM_KEY}",
            ),
            cwd=tmp_path,
        )
        received = collector.spans
        requests = collector.requests
    assert proc.returncode == 0, proc.stderr
    for agent, answer in ARTICLE_ANSWERS.items():
        assert f"[{agent}]\n{answer}\n" in proc.stdout
    trace_id, local = local_trace(proc.stdout, tmp_path)
    assert {r["path"] for r in requests} == {"/v1/traces"}
    assert {r["headers"]["x-team"] for r in requests} == {TEAM_KEY}
    assert {s.trace_id for s in received} == {trace_id}  # one trace, the order's
    # The same spans, with the same parents, as the local file: one tree.
    assert sorted((s.span_id, s.parent_span_id or None, s.name) for s in received) == sorted(
        (s["context"]["span_id"], s["parent_id"], s["name"]) for s in local
    )
    (root,) = [s for s in received if not s.parent_span_id]
    assert root.attributes["order_id"] == "ORD-1001"
    assert {s.resource["service.name"] for s in received} == {"order_tracking_asyncio"}
    assert {s.scope for s in received} == {"monocle_apptrace"}
    assert sum(s.attributes.get("span.type") == "agentic.invocation" for s in received) >= 5
    # The header's value is a secret: never in what the process writes.
    assert TEAM_KEY not in proc.stdout + proc.stderr
    assert all(TEAM_KEY not in p.read_text() for p in (tmp_path / "traces").glob("*.json"))


def test_with_a_collector_that_never_answers_the_run_answers_and_the_file_is_whole(tmp_path):
    with SilentServer() as collector:
        endpoint = collector.url.split("/api/")[0]
        proc = run_track_order(
            "ORD-1001",
            env=env_for(
                tmp_path,
                MONOCLE_EXPORTERS="otlp",  # the local file is written whatever the list says
                OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                OTEL_EXPORTER_OTLP_TIMEOUT="1",
            ),
            cwd=tmp_path,
        )
        assert collector.connections >= 1  # it really tried to upload
    assert proc.returncode == 0, proc.stderr
    for agent, answer in ARTICLE_ANSWERS.items():
        assert f"[{agent}]\n{answer}\n" in proc.stdout
    _, local = local_trace(proc.stdout, tmp_path)
    assert any(s["attributes"].get("span.type") == "workflow" for s in local)
    assert len(local) >= 20
    assert "Traceback" not in proc.stderr


class _Stuck(SpanProcessor):
    """A batch processor whose upload never ends (a collector that accepts and never
    answers, without any timeout)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def shutdown(self) -> None:
        self.release.wait()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.release.wait()
        return True


def test_bounded_gives_up_on_a_stuck_upload_instead_of_holding_the_exit():
    stuck = _Stuck()
    bounded = Bounded("otlp", stuck, timeout_s=0.2)
    done = threading.Event()

    def close() -> None:
        assert bounded.force_flush() is False
        bounded.shutdown()
        done.set()

    threading.Thread(target=close, daemon=True).start()
    # Without the bound both calls wait for ever; with it, they return while still stuck.
    assert done.wait(30) and not stuck.release.is_set()
    stuck.release.set()


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"MONOCLE_EXPORTERS": "file,s3"},
            "MONOCLE_EXPORTERS: 's3' is not an exporter here; choose from file, okahu, otlp",
        ),
        (
            {"MONOCLE_EXPORTER": "okahu"},
            "MONOCLE_EXPORTER names okahu but OKAHU_API_KEY is not set",
        ),
        (
            {"MONOCLE_EXPORTERS": "otlp", "OTEL_EXPORTER_OTLP_TIMEOUT": "0"},
            "OTEL_EXPORTER_OTLP_TIMEOUT must be greater than 0 (seconds, as OpenTelemetry's "
            "Python exporter reads it, not milliseconds)",
        ),
        (
            {"MONOCLE_EXPORTERS": "otlp", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "10000"},
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be at most 600, got '10000' (seconds, as "
            "OpenTelemetry's Python exporter reads it, not milliseconds)",
        ),
        # Found by a review: each was a traceback at start-up, or a failure at every upload.
        (
            {"MONOCLE_EXPORTERS": "otlp", "OTEL_EXPORTER_OTLP_COMPRESSION": "bogus"},
            "OTEL_EXPORTER_OTLP_COMPRESSION must be gzip, deflate or none, got 'bogus'",
        ),
        (
            {"MONOCLE_EXPORTERS": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"},
            "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL (OTLP over HTTP), "
            "got 'localhost:4318'",
        ),
        (
            {"MONOCLE_EXPORTERS": "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:99999"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:// or https:// URL (OTLP over "
            "HTTP), got 'http://h:99999'",
        ),
    ],
)
def test_a_bad_exporter_setting_is_a_config_error(env, message):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "env, okahu, otlp",
    [
        ({}, False, False),
        ({"OKAHU_API_KEY": "okahu-key-123456"}, True, False),  # as before: a key turns it on
        ({"OKAHU_API_KEY": "okahu-key-123456", "MONOCLE_EXPORTERS": "file,otlp"}, False, True),
        ({"OKAHU_API_KEY": "okahu-key-123456", "MONOCLE_EXPORTER": "otlp,okahu"}, True, True),
        ({"MONOCLE_EXPORTERS": " OTLP "}, False, True),
        # Another program's timeout (in milliseconds) is none of ours while OTLP is off.
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "10000"}, False, False),
    ],
)
def test_which_exporters_the_settings_choose(env, okahu, otlp):
    settings = Settings.from_env(env)
    assert (settings.okahu_enabled, settings.otlp_enabled) == (okahu, otlp)


def test_an_exporter_that_cannot_be_built_is_a_config_error_not_a_traceback(monkeypatch):
    """OpenTelemetry's exporter reads variables of its own (here a credential provider that
    is not installed): what it raises is one line naming the exporter."""
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER", "not-installed")
    with pytest.raises(ConfigError) as info:
        remote_processors(Settings.from_env({"MONOCLE_EXPORTERS": "otlp"}))
    assert str(info.value).startswith("MONOCLE_EXPORTERS: otlp cannot be set up: ")
    assert "not-installed" in str(info.value) and "\n" not in str(info.value)


def test_a_bad_compression_on_the_command_line_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("MONOCLE_EXPORTERS", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "bogus")
    code, out, err = run_cli(capsys, "ORD-1001")
    assert (code, out) == (2, "")
    assert err == (
        "track-order: error: OTEL_EXPORTER_OTLP_COMPRESSION must be gzip, deflate or none, "
        "got 'bogus'\n"
    )


def test_an_exporter_that_cannot_be_built_stops_a_workers_batch_before_it_starts(
    capsys, monkeypatch
):
    """Each worker process builds its own exporters: checked once in the parent first (it was
    every agent of every order failing with the same error, exit 1)."""
    monkeypatch.setenv("MONOCLE_EXPORTERS", "otlp")
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER", "not-installed")
    code, out, err = run_cli(capsys, "ORD-1001", "ORD-1002", "--workers", "2")
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: MONOCLE_EXPORTERS: otlp cannot be set up: ")
    assert err.count("\n") == 1


def test_a_collectors_redirect_is_not_followed_with_the_headers(monkeypatch):
    """A collector answering 307 to another port got the export, OTEL_EXPORTER_OTLP_HEADERS
    (a vendor's key) included, sent on there: requests drops only `Authorization`, and only
    for another host. Now a redirect is a failed export (logged by the exporter)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult

    from order_tracking.tracing.exporters import _exporters

    with OtlpReceiver() as elsewhere, OtlpReceiver(redirect_to=elsewhere.endpoint) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-team={TEAM_KEY}")
        settings = Settings.from_env({"MONOCLE_EXPORTERS": "otlp"})
        [(name, exporter, _)] = _exporters(settings)
        span = TracerProvider().get_tracer("test").start_span("s")
        span.end()
        try:
            assert exporter.export([span]) == SpanExportResult.FAILURE
        finally:
            exporter.shutdown()
        assert collector.requests == [{"path": "/v1/traces", "redirected": True}]
        assert elsewhere.requests == [] and elsewhere.spans == []
