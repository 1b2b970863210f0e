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


def test_every_page_is_in_the_navigation():
    config = yaml.load((REPO_ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    listed = set(re.findall(r"'([\w/.-]+\.md)'", str(config["nav"])))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == listed, "add the page to mkdocs.yml's nav (or remove it)"
