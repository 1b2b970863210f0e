"""A CLI that helps itself: ``--version``, a bare ``track-order`` that prints the help, a
misspelt command named as one (not as a bad order id), and every command's help with its
examples, the variables it reads, its exit codes and, for Temporal, how to get a server."""

from __future__ import annotations

import pytest
from helpers import run_cli

from order_tracking.cli.help import HELP, walk
from order_tracking.cli.main import cli
from order_tracking.core.variables import VARIABLES

COMMANDS = [path for path, _ in walk(cli) if path]


def test_version(capsys):
    from importlib.metadata import version

    assert run_cli(capsys, "--version") == (0, f"track-order {version('order-tracking')}\n", "")


def test_a_bare_track_order_prints_the_help_and_exits_0(capsys):
    code, out, err = run_cli(capsys)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: track-order [OPTIONS] COMMAND [ARGS]...")
    assert out == run_cli(capsys, "--help")[1]


@pytest.mark.parametrize("group", ["data", "backends"])
def test_a_bare_command_group_prints_its_help_and_exits_0(capsys, group):
    assert run_cli(capsys, group) == (0, run_cli(capsys, group, "--help")[1], "")


@pytest.mark.parametrize(
    "typo, commands",
    [
        ("tracc", "'track' or 'trace'"),  # as close to both: neither is picked for the reader
        ("trak", "'track'"),
        ("srve", "'serve'"),
        ("sumbit", "'submit'"),
        ("Trace", "'trace'"),
        ("consme", "'consume'"),
    ],
)
def test_a_misspelt_command_is_named_with_the_ones_it_resembles(capsys, typo, commands):
    code, out, err = run_cli(capsys, typo)
    assert (code, out) == (2, "")
    assert err == (
        f"track-order: error: no such command '{typo}'; did you mean {commands}? "
        "(track-order --help lists the commands)\n"
    )


def test_a_word_like_no_command_is_still_an_order_id(capsys):
    code, _, err = run_cli(capsys, "hello")
    assert code == 2 and err.startswith("track-order: error: invalid order id 'hello'")


def test_an_id_of_the_configured_pattern_is_an_order_even_when_it_resembles_a_command(
    capsys, cli_env, monkeypatch
):
    monkeypatch.setenv("ORDER_ID_PATTERN", "[a-z]{5}")
    _, out, _ = run_cli(capsys, "tracc", "--json")
    assert '"order_id": "tracc"' in out


def test_the_shorthand_still_takes_options_before_and_after_the_ids(capsys, cli_env):
    assert run_cli(capsys, "--quiet", "ORD-1001")[:2] == (0, "")
    assert run_cli(capsys, "ORD-1001", "--quiet")[:2] == (0, "")


def test_every_command_has_its_help_entry_and_no_entry_is_left_over():
    assert set(HELP) == {"", *COMMANDS}, "add the command to order_tracking/cli/help.py"


@pytest.mark.parametrize("path", COMMANDS)
def test_every_commands_help_has_examples_environment_and_exit_codes(capsys, path):
    code, out, _ = run_cli(capsys, *path.split(), "--help")
    assert code == 0
    entry = HELP[path]
    assert "Examples:" in out and entry.examples[0] in out
    assert "Exit codes:" in out and "\n      0    " in out
    if entry.env:
        assert "Environment: `" in out
    for line in out.splitlines():
        assert len(line) <= 80, line  # click wraps prose; the kept lines must fit too


def test_every_variable_named_in_help_is_in_the_settings_table():
    documented = {v.name for v in VARIABLES}
    for path, entry in HELP.items():
        assert set(entry.env) <= documented, (path, set(entry.env) - documented)


@pytest.mark.parametrize("path", ["worker", "submit", "result"])
def test_temporal_commands_say_they_need_a_server_and_how_to_start_one(capsys, path):
    out = run_cli(capsys, path, "--help")[1]
    assert "Needs a Temporal server at TEMPORAL_ADDRESS" in out
    assert "uv run temporal server start-dev" in out
    assert all(f"`{name}`" in out for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"))


def test_the_command_list_shows_whole_sentences(capsys):
    out = run_cli(capsys, "--help")[1]
    listed = out.split("Commands:\n", 1)[1].splitlines()
    assert len(listed) == len(cli.commands)
    for line in listed:
        assert line.endswith(".") and "..." not in line, line


def test_shell_completion_completes_commands_and_the_shorthands_options():
    from click.shell_completion import ShellComplete

    def complete(args: list[str], incomplete: str) -> list[str]:
        completer = ShellComplete(cli, {}, "track-order", "_TRACK_ORDER_COMPLETE")
        return [c.value for c in completer.get_completions(args, incomplete)]

    assert complete([], "tr") == ["trace", "track"]
    assert complete(["ORD-1001"], "--st") == ["--stream"]
