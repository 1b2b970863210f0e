"""A Monocle trace file read into a span tree, for ``track-order trace``.

A trace file may come from anyone, so reading one is bounded and never trusts its shape: at
most ``MAX_TRACE_BYTES`` are read (``/dev/zero`` is refused, not read forever), UTF-8 JSON only,
a list of span objects whose fields have the types Monocle writes; whatever else is one
``TraceError`` line. Parent links are followed without recursion and each span is visited once,
so cycles, self-parents and chains thousands deep are shown rather than fatal. Every string
that will be shown is cleaned of control and formatting characters (a title-setting escape
sequence in a span attribute must not reach the terminal).
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_SPANS",
    "MAX_TRACE_BYTES",
    "Span",
    "Trace",
    "TraceError",
    "clean",
    "load_trace",
    "newest_trace",
    "trace_parts",
]

MAX_TRACE_BYTES = 64 * 1024 * 1024  # one order's trace is ~100 KB
MAX_SPANS = 200_000
MAX_PARTS = 1000  # files of one trace: the submitting process's and each worker's
_TRACE_ID = re.compile(r"_([0-9a-f]{32})_")
# Runner "turn" spans only wrap an agent: the tree is easier to read without them.
_COLLAPSED = {"agentic.turn"}


class TraceError(Exception):
    """The trace cannot be shown; the message says why."""


def clean(value: Any, limit: int = 200) -> str:
    """``value`` as one line fit for a terminal: control and format characters (escape
    sequences, bidirectional overrides) and lone surrogates (JSON's ``"\\ud800"``, which no
    encoder writes) replaced, cut at ``limit`` characters."""
    text = "".join(
        "?" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in str(value)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Span:
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    start: float
    end: float
    error: str | None
    children: list[Span] = field(default_factory=list)
    # For an agent span: the runner's ``agent.result`` event (status, tokens, retries).
    result: dict[str, Any] | None = None

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def entity(self) -> str:
        return clean(self.attributes.get("entity.1.name") or self.name)

    def tokens(self) -> tuple[int, int] | None:
        for event in self.events:
            if event.get("name") == "metadata":
                attrs = event.get("attributes")
                if isinstance(attrs, dict) and (
                    "prompt_tokens" in attrs or "completion_tokens" in attrs
                ):
                    prompt, completion = (
                        _int(attrs.get(k)) for k in ("prompt_tokens", "completion_tokens")
                    )
                    return prompt or 0, completion or 0
        return None


@dataclass
class Trace:
    path: Path
    roots: list[Span]
    start: float
    end: float
    # Every file the trace was read from: ``path`` and the other processes' parts beside it.
    parts: tuple[Path, ...] = ()
    skipped: tuple[str, ...] = ()  # why a part beside it could not be read

    def walk(self) -> list[tuple[int, Span]]:
        """Spans depth-first with their depth, turn spans folded into their parent; each
        span once, however the file links them."""
        return [(depth, span) for depth, span, folded in _depth_first(self.roots) if not folded]

    def agents(self) -> list[Span]:
        return [s for _, s in self.walk() if s.kind == "agentic.invocation"]


def _depth_first(roots: list[Span]) -> list[tuple[int, Span, bool]]:
    """(depth, span, folded) depth-first from ``roots``, without recursion, each span once."""
    out: list[tuple[int, Span, bool]] = []
    stack = [(0, root) for root in reversed(roots)]
    seen: set[int] = set()
    while stack:
        depth, span = stack.pop()
        if id(span) in seen:
            continue
        seen.add(id(span))
        folded = span.kind in _COLLAPSED
        out.append((depth, span, folded))
        below = depth if folded else depth + 1
        stack.extend((below, child) for child in reversed(span.children))
    return out


def _time(value: Any, what: str, index: int) -> float:
    if not isinstance(value, str) or len(value) > 64:
        raise TraceError(f"span {index}: {what} is not a time")
    try:  # a valid time can still be out of range for a timestamp (year 1, year 9999)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        raise TraceError(f"span {index}: {what} is not a time") from None


def _error(status: Any) -> str | None:
    if not isinstance(status, dict) or status.get("status_code") != "ERROR":
        return None
    # Monocle writes the reason as "message"; OpenTelemetry's own JSON calls it "description".
    return clean(status.get("message") or status.get("description") or "error")


def _span(raw: Any, index: int) -> Span:
    if not isinstance(raw, dict):
        raise TraceError(f"span {index} is not an object")
    context = raw.get("context")
    span_id = context.get("span_id") if isinstance(context, dict) else None
    if not isinstance(span_id, str) or not span_id:
        raise TraceError(f"span {index} has no context.span_id")
    parent_id = raw.get("parent_id")
    attributes = raw.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    events = raw.get("events")
    events = [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
    return Span(
        span_id=span_id,
        parent_id=parent_id if isinstance(parent_id, str) else None,
        name=clean(raw.get("name") or ""),
        kind=clean(attributes.get("span.type") or ""),
        attributes=attributes,
        events=events,
        start=_time(raw.get("start_time"), "start_time", index),
        end=_time(raw.get("end_time"), "end_time", index),
        error=_error(raw.get("status")),
    )


def _read(path: Path, budget: int = MAX_TRACE_BYTES) -> tuple[Any, int]:
    """The file's JSON and its size; more than ``budget`` bytes (what is left of
    ``MAX_TRACE_BYTES`` for the whole trace) is refused."""
    try:
        with path.open("rb") as stream:
            data = stream.read(budget + 1)
    except FileNotFoundError:
        raise TraceError(f"no such trace file: {path}") from None
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > budget:
        limit = f"{MAX_TRACE_BYTES // 2**20} MiB"
        if budget < MAX_TRACE_BYTES:
            raise TraceError(f"{path}: the files of its trace hold more than {limit} together")
        raise TraceError(f"{path} is larger than {limit}: not a trace file")
    try:
        return json.loads(data.decode("utf-8")), len(data)
    except UnicodeDecodeError:
        raise TraceError(f"{path} is not UTF-8 text: not a trace file") from None
    except json.JSONDecodeError:
        raise TraceError(f"{path} is not valid JSON (is it still being written?)") from None
    except RecursionError:
        raise TraceError(f"{path} is nested too deeply to be a trace file") from None


def newest_trace(folder: Path) -> Path:
    try:
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    except OSError as exc:
        raise TraceError(f"cannot read {folder}/: {exc.strerror or exc}") from None
    if not files:
        raise TraceError(f"no trace files in {folder}/ (run `track-order ORD-1001` first)")
    return files[-1]


def trace_parts(folder: Path, trace_id: str) -> list[Path]:
    """The files of one trace in ``folder`` (a process's part each): the one holding its root
    first (named without a process), then the others oldest first."""
    if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
        return []
    found: list[tuple[bool, float, str, Path]] = []
    try:  # at most MAX_PARTS + 1 names looked at (one too many says "too many")
        names = list(
            itertools.islice(folder.glob(f"monocle_trace_*_{trace_id}_*.json"), MAX_PARTS + 1)
        )
    except OSError:
        return []
    for path in names:
        try:
            if path.is_file():  # a worker's part: ``…_<time>.<host>-<pid>.json``, a dot more
                found.append((path.name.count(".") > 3, path.stat().st_mtime, path.name, path))
        except OSError:  # gone meanwhile, or unreadable: the others still count
            continue
    return [path for *_, path in sorted(found)]


def load_trace(path: Path) -> Trace:
    """The trace in ``path``, with the parts other processes wrote of the same trace (files
    beside it named with the same trace id) merged in: one tree."""
    match = _TRACE_ID.search(path.name)
    siblings = trace_parts(path.parent, match.group(1)) if match else []
    others = [p for p in siblings if p.name != path.name]
    if len(others) >= MAX_PARTS:
        raise TraceError(f"{path}: more than {MAX_PARTS} files share its trace id")
    spans: dict[str, Span] = {}
    budget = MAX_TRACE_BYTES
    read, skipped = [path], []
    for part in [path, *others]:
        try:
            raw, size = _read(part, budget)
            if not isinstance(raw, list) or (part == path and not raw):
                raise TraceError(f"{part} holds no Monocle spans")
            if len(raw) + len(spans) > MAX_SPANS:
                raise TraceError(f"{part} holds more than {MAX_SPANS} spans: not one trace")
            found = {}
            for index, item in enumerate(raw):
                try:
                    span = _span(item, index)
                except TraceError as exc:
                    raise TraceError(f"{part}: {exc}") from None
                found.setdefault(span.span_id, span)
        except TraceError as exc:
            if part == path:  # the file asked for must be a trace; another part may be shown as
                raise  # unreadable, the rest of the trace still shown
            skipped.append(str(exc))
            continue
        budget -= size
        for span_id, span in found.items():
            spans.setdefault(span_id, span)
        if part != path:
            read.append(part)
    return _tree(path, spans, tuple(read), tuple(skipped))


def _tree(
    path: Path, spans: dict[str, Span], parts: tuple[Path, ...], skipped: tuple[str, ...]
) -> Trace:
    results = {
        clean(event["attributes"].get("agent")): event["attributes"]
        for span in spans.values()
        for event in span.events
        if event.get("name") == "agent.result" and isinstance(event.get("attributes"), dict)
    }
    roots = []
    for span in spans.values():
        if span.kind == "agentic.invocation":
            span.result = results.get(span.entity)
        parent = spans.get(span.parent_id or "")
        (parent.children if parent is not None and parent is not span else roots).append(span)
    for span in spans.values():
        span.children.sort(key=lambda s: s.start)
    roots.sort(key=lambda s: s.start)
    # Spans whose parents only lead round in a circle: shown from the earliest of each.
    reached = {id(span) for _, span, _ in _depth_first(roots)}
    for span in sorted(spans.values(), key=lambda s: s.start):
        if id(span) not in reached:
            roots.append(span)
            reached |= {id(s) for _, s, _ in _depth_first([span])}
    start = min(s.start for s in spans.values())
    end = max(s.end for s in spans.values())
    return Trace(path, roots, start, end, parts, skipped)
