"""What the pages say about the code, checked against the code: the README stays a front page
and names every way in, the JSON schema and the SSE example list the fields the code writes,
the statuses are the ones a run can end with, every page is in the navigation."""

from __future__ import annotations

import json
import re

import yaml
from helpers import REPO_ROOT

from order_tracking.cli.main import cli
from order_tracking.core.report import order_json
from order_tracking.core.results import AgentResult, OrderReport, Status

README = (REPO_ROOT / "README.md").read_text()
DOCS = REPO_ROOT / "docs"
# Commands that belong to a way in named on another row of the README's table.
PART_OF = {"submit": "worker", "result": "worker", "backends": "data", "publish": "consume"}


def _sample_json() -> dict:
    result = AgentResult("payment_agent", Status.OK, "Status: captured", None, 0.1)
    return order_json(OrderReport("ORD-1001", (result,), 0.2))


def test_the_readme_is_a_front_page():
    assert len(README.splitlines()) <= 200


def test_the_readme_names_what_the_tests_need_besides_uv():
    """The Debian packages ``.ci/run`` installs for the tests are named where a newcomer reads
    what to install before the test command."""
    packages = re.findall(r'missing="\$missing (\S+)"', (REPO_ROOT / ".ci/run").read_text())
    assert packages
    two_commands = README.split("## Two commands", 1)[1].split("\n## ", 1)[0].lower()
    for package in packages:
        assert package in two_commands, (
            f"say in the README's 'Two commands' that tests need {package}"
        )


def test_the_readme_names_every_way_in():
    table = README.split("## Ways to run it", 1)[1].split("\n## ", 1)[0]
    for name in cli.commands:
        if name != "track":  # the table's first row: track-order ORD-1001
            assert f"track-order {PART_OF.get(name, name)}" in table, (
                f"add `track-order {name}` to the README's 'Ways to run it' table"
            )


def test_the_json_schema_table_lists_every_field_the_code_writes():
    page = (DOCS / "running.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_\[\].]+)` \|", page, re.MULTILINE))
    sample = _sample_json()
    written = set(sample) | {f"agents[].{key}" for key in sample["agents"][0]}
    assert documented == written


def test_the_server_sent_events_example_has_every_field():
    page = (DOCS / "http.md").read_text()
    agent = json.loads(re.search(r"^data: (\{\"agent\".*\})$", page, re.MULTILINE).group(1))
    order = re.search(r"^data: (\{\"order_id\".*\})$", page, re.MULTILINE).group(1)
    sample = _sample_json()
    assert list(agent) == list(sample["agents"][0])
    assert re.findall(r'"(\w+)":', order) == list(sample)


def test_the_statuses_table_is_the_code_s():
    page = (DOCS / "concepts.md").read_text()
    assert re.findall(r"^\| `(\w+)` \| ", page, re.MULTILINE)[-len(Status) :] == list(Status)


SUFFIXES = {"counter": ("_total",), "histogram": ("", "_bucket", "_sum", "_count")}


def _exported_metrics() -> set[str]:
    """Every series name the processes export: the orders' and agent runs' (with the spend and
    circuit families a scrape adds) and the stream consumer's."""
    from order_tracking.ops.metrics import Metrics
    from order_tracking.ops.spend import Limits, MemoryStore
    from order_tracking.stream import StreamMetrics

    metrics = Metrics()
    metrics.watch_spend(MemoryStore(Limits()))
    metrics.watch_circuits("model", _NoCircuits())
    names: set[str] = set()
    for registry in (metrics.registry, StreamMetrics().registry):
        for family in registry.collect():
            # A labelled family has no samples until used: its series names by its type.
            suffixes = SUFFIXES.get(family.type, ("",))
            names |= {family.name + suffix for suffix in suffixes}
    return names


class _NoCircuits:
    def states(self) -> dict[str, str]:
        return {}


def test_the_metrics_the_pages_name_are_exported_and_the_promql_examples_are_queries():
    exported = _exported_metrics()
    for page in ("operations.md", "streaming.md", "failures.md", "temporal.md"):
        text = (DOCS / page).read_text()
        named = set(re.findall(r"\border_tracking_(?!asyncio)\w+", text))
        assert named <= exported, (page, named - exported)
        for block in re.findall(r"^```promql\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
            for line in filter(str.strip, block.splitlines()):
                # A line that is neither a comment nor names a metric is prose that lost its `#`.
                assert line.startswith("#") or "order_tracking_" in line, (page, line)


def test_what_the_code_points_readers_at_exists():
    """Comments, help and ``.env.example`` point at pages (``docs/<page>.md``) and at sections of
    the README; the README was cut to a front page once and its sections went to pages."""
    sources = [
        p
        for folder in ("order_tracking", "scripts", "benchmarks", "tests", ".ci")
        for p in (REPO_ROOT / folder).rglob("*")
        if p.is_file()
        and p.suffix in {".py", ".example", ".md", ""}
        and "__pycache__" not in p.parts
    ]
    sections = set(re.findall(r"^## (.+)$", README, re.MULTILINE))
    for path in sources:
        text = path.read_text(errors="replace")
        for page in re.findall(r"\bdocs/[\w/-]+\.md\b", text):
            assert (REPO_ROOT / page).is_file(), (path, page)
        for section in re.findall(r"README's \"([^\"]+)\"", text):
            assert section in sections, (path, f"the README has no section {section!r}")


def test_the_architecture_page_s_file_tree_has_every_wing():
    page = (DOCS / "architecture.md").read_text()
    listed = set(re.findall(r"^├── (\w+)/", page, re.MULTILINE))
    package = REPO_ROOT / "order_tracking"
    wings = {p.parent.name for p in package.glob("*/__init__.py")}
    assert wings <= listed, f"add {wings - listed} to the tree in docs/architecture.md"


def test_every_page_is_in_the_navigation():
    config = yaml.load((REPO_ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    listed = set(re.findall(r"'([\w/.-]+\.md)'", str(config["nav"])))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == listed, "add the page to mkdocs.yml's nav (or remove it)"
