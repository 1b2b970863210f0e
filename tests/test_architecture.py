"""The layout's promises, checked on the source: the wings' order (no import runs up), no
import cycle, the environment read only by the configuration code, small modules, light modules
that stay light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "order_tracking"
# Only these read the environment (settings, .env files, the composition root).
READS_ENVIRONMENT = {"order_tracking.core.settings", "order_tracking.composition"}
# The offline model is one policy in one file; everything else stays small.
MAX_LINES = 300
LONGER_ALLOWED = {"order_tracking.models.offline", "order_tracking.core.variables"}  # a table
# At the top of the package: the wings, the composition root and the public face, nothing else.
MAX_WINGS = 13
TOP_LEVEL_FILES = {"__init__.py", "composition.py"}  # and the article's .env.example


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


MODULES = _modules()


def _lazy_names() -> dict[str, str]:
    """What the package's own ``__init__`` hands out lazily: name -> the module defining it."""
    import order_tracking

    return {name: f"order_tracking.{module}" for name, module in order_tracking._LAZY.items()}


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Every module of the package that ``name`` imports, at any depth of its code (lazy
    imports inside functions and ``TYPE_CHECKING`` imports count: they are edges all the
    same). A name taken from the package itself (``from order_tracking import App``) is an edge
    to the module that defines it; ``importlib.import_module("...")`` with a literal is one
    too."""
    package = name if (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() else None
    base = (package or name.rsplit(".", 1)[0]).split(".")
    lazy = _lazy_names()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            root = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*root, *(node.module.split(".") if node.module else [])])
            # `from . import tools` imports a module; `from .composition import build` a name in one.
            targets = [
                f"{module}.{a.name}"
                if f"{module}.{a.name}" in MODULES
                else lazy.get(a.name, module)
                if module == "order_tracking"
                else module
                for a in node.names
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            spec = node.args[0].value
            level = len(spec) - len(spec.lstrip("."))
            root = base[: len(base) - level + 1] if level else []
            targets = [".".join([*root, *spec.lstrip(".").split(".")])]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    # A package's own __init__ runs before any of its modules: not an edge of its own.
    return found - {"order_tracking"}


def _wing(module: str, layers: tuple[str, ...]) -> int:
    """The rank of the longest wing ``module`` is under (0 = top)."""
    name = module.removeprefix("order_tracking.")
    ranks = [i for i, w in enumerate(layers) if name == w or name.startswith(w + ".")]
    if not ranks:
        raise AssertionError(f"{module} is in no wing of order_tracking.LAYERS")
    return max(ranks, key=lambda i: len(layers[i]))


def upward_imports(modules: dict[str, ast.Module], layers: tuple[str, ...]) -> list[str]:
    """Every import that runs from a wing to one above it, as ``a (wing) -> b (wing)``."""
    found = []
    for name, tree in modules.items():
        if name == "order_tracking":  # the public face: lazy re-exports of the wings
            continue
        here = _wing(name, layers)
        for target in sorted(_imports(name, tree)):
            there = _wing(target, layers)
            if there < here:
                found.append(f"{name} ({layers[here]}) -> {target} ({layers[there]})")
    return found


def test_no_import_runs_up_the_wings():
    from order_tracking import LAYERS

    layers = tuple(wing for wing, _ in LAYERS)
    assert len(set(layers)) == len(layers)
    assert upward_imports(MODULES, layers) == []


def test_an_upward_import_is_caught():
    """The check itself: a core module that reached up into the CLI would be named."""
    from order_tracking import LAYERS

    layers = tuple(wing for wing, _ in LAYERS)
    planted = dict(MODULES)
    planted["order_tracking.core.results"] = ast.parse("from ..cli.output import Mode\n")
    assert upward_imports(planted, layers) == [
        "order_tracking.core.results (core) -> order_tracking.cli.output (cli)"
    ]
    # Through the package's lazy public names, or by importlib, all the same.
    planted["order_tracking.core.results"] = ast.parse(
        "from order_tracking import App\nimportlib.import_module('..cli.output', __name__)\n"
    )
    assert upward_imports(planted, layers) == [
        "order_tracking.core.results (core) -> order_tracking.cli.output (cli)",
        "order_tracking.core.results (core) -> order_tracking.composition (composition)",
    ]


def test_every_module_is_in_a_wing_and_the_top_stays_small():
    from order_tracking import LAYERS

    layers = tuple(wing for wing, _ in LAYERS)
    for name in MODULES:
        if name != "order_tracking":
            _wing(name, layers)
    # What git holds: a developer's order_tracking/.env or adk web's .adk/ are not the layout.
    entries = [p for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))]
    assert {p.name for p in entries if p.is_file()} == TOP_LEVEL_FILES
    assert len([p for p in entries if (p / "__init__.py").exists()]) <= MAX_WINGS
    assert all((p / "__init__.py").exists() for p in entries if p.is_dir())


def test_the_import_graph_has_no_cycle():
    graph = {name: _imports(name, tree) for name, tree in MODULES.items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert "order_tracking.cli.main" not in graph["order_tracking.async_runner.fanout"]


def _environment_reads(tree: ast.Module) -> list[int]:
    """Lines that read ``os.environ`` / ``os.getenv`` (writing a library's switch is not a
    read: ``os.environ[NAME] = value``)."""
    writes = {
        id(target.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Subscript)
    }
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"environ", "getenv", "environb"}
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and id(node) not in writes
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module in {"os", "dotenv"}:
            if node.module == "dotenv" or {"environ", "getenv"} & {a.name for a in node.names}:
                lines.append(node.lineno)
    return lines


def test_only_the_configuration_code_reads_the_environment():
    readers = {name: lines for name, tree in MODULES.items() if (lines := _environment_reads(tree))}
    assert set(readers) <= READS_ENVIRONMENT, readers
    assert set(readers) == READS_ENVIRONMENT  # the check itself sees reads where they are


def test_modules_stay_small():
    sizes = {
        name: len(
            (PACKAGE / Path(*name.split(".")[1:])).with_suffix(".py").read_text().splitlines()
        )
        if not (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists()
        else len((PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").read_text().splitlines())
        for name in MODULES
    }
    too_long = {n: s for n, s in sizes.items() if s > MAX_LINES and n not in LONGER_ALLOWED}
    assert not too_long


def test_results_rendering_and_start_up_import_no_agent_library():
    """What the CLI needs before it runs anything, and what the service and the worker pool
    need for a result, import none of ADK, LiteLLM or Monocle."""
    code = (
        "import sys\n"
        "import order_tracking.core.results, order_tracking.core.report\n"
        "import order_tracking.cli.output, order_tracking.cli.main, order_tracking.composition\n"
        "import order_tracking.agents.specialists, order_tracking.core.order_ids\n"
        "import order_tracking.ops.lifecycle\n"
        "heavy = ('google.adk', 'litellm', 'monocle_apptrace', 'opentelemetry', 'fastapi')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_only_loopback_is_served_without_keys(host, loopback):
    from order_tracking.core.listen import ListenError, exposure_warning, is_loopback

    assert is_loopback(host) is loopback
    assert exposure_warning(host, 80, ("k" * 16,), insecure=False) is None
    if loopback:
        assert exposure_warning(host, 80, (), insecure=False) is None
    else:
        with pytest.raises(ListenError, match="without authentication"):
            exposure_warning(host, 80, (), insecure=False)
        warning = exposure_warning(host, 80, (), insecure=True)
        assert warning.startswith(f"WARNING: serving on {host}:80 WITHOUT AUTHENTICATION")
