"""Docs that cannot lie: every shell example shown with its output (a ```console block: a
``$ command`` line, then what it prints) on the Getting started page and in the README is run,
offline, and what it prints is compared with the page. Times, trace ids and the trace folder
are masked; a line ``…`` stands for any lines."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, run_cli

PAGES = ["README.md", "docs/getting-started.md"]
OFFLINE_NOTICE = re.compile(r"^No SHIPPING_MODEL and no OPENAI_API_KEY set: .*\n", re.MULTILINE)
MASKS = [
    # A trace file, wherever the run's trace folder is.
    (r"\S*monocle_trace_(\w+?)_[0-9a-f]{32}_[\d._-]+\.json", r".monocle/monocle_trace_\1_<trace id>_<time>.json"),
    (r"\b\d+\.\d+s\b", "<s>"),  # seconds: 0.27s, ~1.3s
    (r"^(ORD-\d+ +\d+ +\d+ +)\d+\.\d+", r"\1<s>"),  # a summary row's wall time
]  # fmt: skip


def _examples() -> list[tuple[str, str, str]]:
    """(page, command, expected output) for every ``$`` line of every console block."""
    found = []
    for page in PAGES:
        text = (REPO_ROOT / page).read_text()
        for block in re.findall(r"^```console\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
            for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
                command, _, output = chunk.partition("\n")
                found.append((page, command, output))
    return found


EXAMPLES = _examples()


def _normal(text: str) -> str:
    for pattern, replacement in MASKS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    return "\n".join(" ".join(line.split()) for line in text.strip("\n").splitlines())


def _matches(expected: str, actual: str) -> bool:
    parts = [
        r"(?:[^\n]*\n)*?" if line == "…" else re.escape(line) + r"\n"
        for line in _normal(expected).splitlines()
    ]
    return re.fullmatch("".join(parts), _normal(actual) + "\n") is not None


def _offline_environment() -> dict[str, str]:
    from order_tracking.core.variables import VARIABLES

    names = {v.name for v in VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.endswith("_MODEL")}
    env["ADK_DISABLE_LOAD_DOTENV"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_pages_have_examples():
    assert len(EXAMPLES) >= 5
    assert {page for page, _, _ in EXAMPLES} == set(PAGES)


@pytest.mark.parametrize(
    "page, command, expected", EXAMPLES, ids=[f"{p}: {c}" for p, c, _ in EXAMPLES]
)
def test_example_prints_what_the_page_shows(
    page, command, expected, capsys, cli_env, monkeypatch, tmp_path
):
    # `uv run [--group G] X` is X in this environment: the test runs in it already.
    command = re.sub(r"^uv run (?:--\S+ \S+ )*", "", command)
    words = shlex.split(command)
    if words[0] == "track-order" and not set("|&;<>$") & set(command):
        monkeypatch.chdir(REPO_ROOT)  # paths in examples are the checkout's
        _, out, err = run_cli(capsys, *words[1:])
    else:  # a shell line: run by a shell, in a folder of its own
        (tmp_path / "tests").symlink_to(REPO_ROOT / "tests")
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=_offline_environment(),
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out, err = done.stdout, done.stderr
    printed = out + OFFLINE_NOTICE.sub("", err)
    assert _matches(expected, printed), f"{page}: $ {command}\n--- printed:\n{printed}"
