"""MkDocs hooks (``mkdocs.yml``): the parts of the site generated from the code at build time,
so they cannot drift from it. A page asks for one with a marker line:

- ``<!-- generated: settings -->``: every environment variable (``core/variables.py``);
- ``<!-- generated: wings -->``: the package's wings, top first (``order_tracking.LAYERS``),
  as a diagram and a table;
- ``<!-- generated: benchmarks -->``: BENCHMARKS.md, as it is;
- ``<!-- generated: readme TITLE -->``: the README's section TITLE (its text once, in both).

After the build: the trace viewer's HTML waterfall of the recorded trace, the service's OpenAPI
document (made from its FastAPI app; the backends' is kept in docs/) and Swagger UI's files
(the copy LiteLLM ships), so the HTTP API page needs nothing from a CDN.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIMELINE_TRACE = "tests/fixtures/trace_openai_ORD-1002.json"
MARKER = re.compile(r"^<!-- generated: (\w+)(?: (.+?))? -->$", re.MULTILINE)


def settings_table() -> str:
    from order_tracking.core.variables import GROUPS, VARIABLES

    parts = []
    for group in GROUPS:
        parts += [f"### {group}", "", "| Variable | Default | Range or choices | Meaning |"]
        parts.append("|---|---|---|---|")
        for v in (v for v in VARIABLES if v.group == group):
            meaning = v.meaning + (f" *Read by {v.read_by}.*" if v.read_by else "")
            parts.append(f"| `{v.name}` | {v.shown} | {v.rule or '—'} | {meaning} |")
        parts.append("")
    return "\n".join(parts)


def wings() -> str:
    from order_tracking import LAYERS

    # A layer cake, top first: each wing may import from the layers under it.
    lines = ["```mermaid", "block-beta", "  columns 1"]
    lines += [f'  w{i}["{wing}"]' for i, (wing, _) in enumerate(LAYERS)]
    lines += ["```", "", "| Wing (top first) | What it is |", "|---|---|"]
    lines += [f"| `{wing}` | {what} |" for wing, what in LAYERS]
    return "\n".join(lines) + "\n"


def benchmarks() -> str:
    text = re.sub(r"\A# .*\n", "", (ROOT / "BENCHMARKS.md").read_text())  # the page's title
    lines, fenced = [], False
    for line in text.splitlines():  # its sections go one level down, under the page's own
        fenced ^= line.startswith("```")
        lines.append("#" + line if line.startswith("#") and not fenced else line)
    return "\n".join(lines) + "\n"


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL
    )
    if match is None:
        raise ValueError(f"README.md has no section {title!r}")
    return match.group(1).strip()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def generated(match: re.Match[str]) -> str:
        kind, argument = match.groups()
        if kind == "settings":
            return settings_table()
        if kind == "wings":
            return wings()
        if kind == "benchmarks":
            return benchmarks()
        if kind == "readme":
            return readme_section(argument)
        raise ValueError(f"{page.file.src_path}: unknown generated part {kind!r}")

    return MARKER.sub(generated, markdown)


def on_post_build(config: Any) -> None:
    from order_tracking.http.asgi import swagger_assets
    from order_tracking.http.service import create_app
    from order_tracking.tracing.view import load_trace, write_html

    site = Path(config["site_dir"])
    assets = site / "assets"
    write_html(load_trace(ROOT / TIMELINE_TRACE), assets / "timeline-ORD-1002.html")
    swagger = swagger_assets()
    if swagger is None:
        raise RuntimeError("Swagger UI's files were not found in LiteLLM's package")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        shutil.copy(swagger / name, assets / name)
    # The routes are all the document needs: no agent is built for it.
    service = create_app(SimpleNamespace(watch=None)).openapi()
    (assets / "service.openapi.json").write_text(json.dumps(service, indent=2))
