"""The documentation site builds strictly (a broken link, a missing page or anchor fails), and
every page loads in a headless browser as a reader's would: no console error, no uncaught
exception, no request that fails or leaves the machine, and the pictures drawn (Mermaid
diagrams, the trace waterfall, Swagger UI)."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from browser import chromium_path, open_browser
from helpers import REPO_ROOT

# What a page must show besides loading cleanly: JavaScript evaluated in it, and the least it
# must come to.
CHECKS = {
    "mermaid": "document.querySelectorAll('pre.mermaid, div.mermaid').length",
    # Material draws each into a closed shadow root: a drawn diagram is a div with a height.
    "drawn": "[...document.querySelectorAll('div.mermaid')]"
    ".filter(d => d.getBoundingClientRect().height > 50).length",
    "swagger_operations": "document.querySelectorAll('.swagger .opblock').length",
    "timeline_frames": "document.querySelectorAll('iframe.timeline').length",
}


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build`` of ``project`` into ``site`` (strict: the project's mkdocs.yml says so)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site)],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    done = _build(REPO_ROOT, folder)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return folder


def test_the_site_builds_strictly_with_every_page_and_generated_part(site):
    pages = {p.parent.relative_to(site).as_posix() for p in site.rglob("index.html")}
    for page in ("getting-started", "reference/cli", "reference/configuration", "architecture"):
        assert page in pages
    configuration = (site / "reference/configuration/index.html").read_text()
    assert "AGENT_TIMEOUT_S" in configuration and "0 &lt; x ≤ 86,400" in configuration
    cli = (site / "reference/cli/index.html").read_text()
    assert "track-order submit" in cli and "Needs a Temporal server" in cli
    assert "<!-- generated:" not in "".join(p.read_text() for p in site.rglob("*.html"))
    for asset in ("timeline-ORD-1002.html", "service.openapi.json", "swagger-ui-bundle.js"):
        assert (site / "assets" / asset).is_file()


def test_a_broken_link_fails_the_build(tmp_path):
    """The site's own settings (strict, link and anchor validation) on two pages, one of them
    with a link to nowhere: the build fails naming it."""
    config = (REPO_ROOT / "mkdocs.yml").read_text()
    config = re.sub(r"^hooks:\n(  .*\n)+", "", config, flags=re.MULTILINE)
    config = config.split("\nnav:\n", 1)[0] + "\nnav: [index.md, concepts.md]\n"
    (tmp_path / "mkdocs.yml").write_text(config)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [concepts](concepts.md).\n")
    (tmp_path / "docs" / "concepts.md").write_text("# Concepts\n\nSee [it](no-such-page.md).\n")
    done = _build(tmp_path, tmp_path / "site")
    assert done.returncode != 0
    assert "contains a link 'no-such-page.md'" in done.stderr


@pytest.fixture(scope="module")
def served(site) -> str:
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_every_page_loads_in_a_browser_without_an_error_or_a_missing_asset(site, served):
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") and shutil.which("apt-get"):
            pytest.fail(
                "CI has apt but no chromium: .ci/run installs it (apt-get install chromium)"
            )
        pytest.skip("no Chromium here (Debian's chromium package; .ci/run installs it with apt)")
    pages = sorted(p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    seen = {}
    with open_browser(executable) as browser:
        for page in pages:
            url = f"{served}/{'' if page == '.' else page + '/'}"
            report = browser.load(url, CHECKS)
            assert not report.problems, (url, report.problems)
            assert report.values["drawn"] == report.values["mermaid"], (url, report.values)
            seen[page] = report.values
    assert seen["architecture"]["mermaid"] == 2 and seen["temporal"]["mermaid"] == 1
    assert seen["reference/http-api"]["swagger_operations"] >= 9  # 5 routes and 4
    assert seen["."]["timeline_frames"] == 1
