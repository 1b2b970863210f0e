"""The settings table (``core/variables.py``): every variable the code reads is in it, the
``Settings`` defaults are its defaults, and ``.env.example`` names every one of them."""

import ast
import re
from pathlib import Path

import pytest

from order_tracking.core.settings import OFFLINE_MODEL, ConfigError, Settings
from order_tracking.core.variables import GROUPS, VARIABLES, variable

PACKAGE = Path(__file__).resolve().parents[2] / "order_tracking"
# The code that parses the environment (a mapping handed in by the composition root).
READERS = ["core/settings.py", "core/backend_settings.py", "core/values.py", "core/variable.py"]
DOCUMENTED = {v.name for v in VARIABLES}
MENTIONED = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", " ".join(v.meaning for v in VARIABLES)))


def _names_read(source: str) -> set[str]:
    """String constants used as keys of ``env`` (``env.get("X")``, ``env["X"]``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get" and node.args:
                key = node.args[0]
        elif isinstance(node, ast.Subscript):
            key = node.slice
        if isinstance(key, ast.Constant) and re.fullmatch(r"[A-Z][A-Z0-9_]{3,}", str(key.value)):
            names.add(key.value)
    return names


def test_every_variable_the_code_reads_is_in_the_table():
    read = set().union(*(_names_read((PACKAGE / p).read_text()) for p in READERS))
    assert "SHIPPING_MODEL" in read and "ORDER_BACKEND" in read  # the scan finds them
    missing = sorted(read - DOCUMENTED - MENTIONED)
    assert not missing, f"add these to core/variables.py: {missing}"


def test_the_settings_defaults_are_the_tables():
    assert Settings.from_env({}) == Settings(default_model=OFFLINE_MODEL, offline_fallback=True)


def test_every_field_the_generic_reader_fills_exists_and_every_group_is_known():
    fields = set(Settings.__dataclass_fields__)
    for v in VARIABLES:
        assert v.group in GROUPS, v.name
        assert v.field is None or v.field in fields, v.name
        assert "\n" not in v.meaning and v.meaning.endswith("."), v.name


@pytest.mark.parametrize("name", ["LOG_FORMAT", "ANSWER_CHECK"])
def test_a_choice_outside_the_table_is_refused_naming_the_choices(name):
    choices = ", ".join(variable(name).choices)
    with pytest.raises(ConfigError, match=f"^{name} must be one of {choices}, got 'nope'$"):
        Settings.from_env({name: "Nope"})


def test_env_example_names_every_variable():
    example = (PACKAGE / ".env.example").read_text()
    missing = [v.name for v in VARIABLES if "<" not in v.name and v.name not in example]
    assert not missing, f"add these to order_tracking/.env.example: {missing}"


def test_ranges_are_written_as_the_reader_checks_them():
    assert variable("AGENT_TIMEOUT_S").rule == "0 < x ≤ 86,400"
    assert variable("MAX_INPUT_CHARS").rule == "1 ≤ x ≤ 10,000,000 (whole)"
    assert variable("ANSWER_CHECK").rule == "`flag` \\| `replace` \\| `off`"
    with pytest.raises(ConfigError, match="^AGENT_TIMEOUT_S must be at most 86400, got"):
        Settings.from_env({"AGENT_TIMEOUT_S": "86401"})
