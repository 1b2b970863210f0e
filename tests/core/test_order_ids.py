"""Order ids from strangers: arguments, files, stdin. Every id is checked before anything runs;
anything that is not one is a single line naming where, read within bounded memory."""

from __future__ import annotations

import io
import re

import pytest
from helpers import run_cli
from hypothesis import example, given
from hypothesis import strategies as st

from order_tracking.core.order_ids import (
    MAX_LINE_BYTES,
    InvalidOrderId,
    OrderIdPattern,
    OrderIds,
    parse_order_id,
)

ID = re.compile(r"ORD-[0-9]{1,12}")


def read(data: bytes, *args: str) -> list[str]:
    with OrderIds(args, io.BytesIO(data), "ids.txt") as ids:
        return list(ids)


def test_a_file_with_a_byte_order_mark_crlf_comments_and_blank_lines():
    data = b"\xef\xbb\xbfORD-1001\r\n# a comment\r\n\r\n  ord-1002  # trailing\r\nORD-1003"
    assert read(data, "ORD-7") == ["ORD-7", "ORD-1001", "ORD-1002", "ORD-1003"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"ORD-1001\n\xff\xfeORD-1002\n", "ids.txt, line 2: not UTF-8 text"),
        (b"\x00" * 5000, f"ids.txt, line 1: longer than {MAX_LINE_BYTES} bytes, not an order id"),
        (b"ORD-1001\nORD-1002x\n", "ids.txt, line 2: invalid order id 'ORD-1002x'"),
        (b"ORD-1\n\x1b]0;pwned\x07\n", "ids.txt, line 2: invalid order id '\\x1b]0;pwned\\x07'"),
    ],
)
def test_what_is_not_an_id_is_named_by_its_line(data, message):
    with pytest.raises(InvalidOrderId) as error:
        read(data)
    assert str(error.value).startswith(message)


def test_an_endless_file_is_refused_at_its_first_line(capsys):
    code, out, err = run_cli(capsys, "--file", "/dev/zero")
    assert (code, out) == (2, "")
    assert err == (
        f"track-order: error: /dev/zero, line 1: longer than {MAX_LINE_BYTES} bytes, "
        "not an order id\n"
    )


def test_binary_on_stdin_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00")))
    code, out, err = run_cli(capsys, "--file", "-")
    assert (code, out) == (2, "")
    assert err.startswith("track-order: error: <stdin>, line ") and err.count("\n") == 1


@given(st.binary(max_size=3000))
@example(b"\x00" * 41)  # escaped, 41 NULs were 246 characters: cut after escaping now
@example("\U000e0001".encode() * 41)
def test_any_bytes_give_checked_ids_or_one_clear_error(data):
    try:
        ids = read(data)
    except InvalidOrderId as error:
        assert str(error).startswith("ids.txt, line ") and "\n" not in str(error)
        assert len(str(error)) < 200
        return
    assert all(ID.fullmatch(i) for i in ids)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**12 - 1),
            st.sampled_from(["", "  ", " # note", "\t#x"]),
            st.sampled_from(["\n", "\r\n"]),
        ),
        max_size=50,
    ),
    st.booleans(),
)
def test_every_valid_id_comes_back_in_order(lines, bom):
    data = ("\ufeff" if bom else "") + "".join(f"ord-{n}{tail}{end}" for n, tail, end in lines)
    assert read(data.encode()) == [f"ORD-{n}" for n, _, _ in lines]


@given(st.text(max_size=100))
def test_parse_order_id_accepts_exactly_the_pattern(raw):
    try:
        parsed = parse_order_id(raw)
    except InvalidOrderId as error:
        assert "\n" not in str(error).replace("\\n", "") or "\n" in repr(raw)
        return
    assert ID.fullmatch(parsed) and parsed == raw.strip().upper()


def test_the_offline_models_copy_of_the_id_length_is_the_same():
    from order_tracking.core.order_ids import MAX_ID_CHARS
    from order_tracking.models import offline as offline_model

    assert offline_model._MAX_ID_CHARS == MAX_ID_CHARS


# --- ORDER_ID_PATTERN is someone's input (issue 22, items 1, 9 and 12) ----------------------


def test_a_pattern_with_hash_takes_hash_ids_from_a_file():
    """The README's own pattern: ``#W2611340`` lines are ids, not comments; ``# note`` still
    is one, and a mistyped ``#W`` id is named, never dropped."""
    pattern = OrderIdPattern("#W[0-9]{7}")
    data = b"#W2611340\n# a note\n#W1000001  # vip\n\n#"
    with OrderIds([], io.BytesIO(data), "ids.txt", pattern) as ids:
        assert list(ids) == ["#W2611340", "#W1000001"]
    with pytest.raises(InvalidOrderId, match=r"^ids\.txt, line 2: invalid order id '#W26'"):
        OrderIds([], io.BytesIO(b"#W2611340\n#W26\n"), "ids.txt", pattern)


def test_hash_ids_on_the_command_line_from_a_file(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ORDER_ID_PATTERN", "#W[0-9]{7}")
    path = tmp_path / "ids.txt"
    path.write_text("#W2611340\nORD-1001\n")
    code, out, err = run_cli(capsys, "--file", str(path), "--json")
    # Read as ids: the second is refused by name (before, both were comments: "no order id").
    assert (code, out) == (2, "")
    assert err.startswith(f"track-order: error: {path}, line 2: invalid order id 'ORD-1001'")


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("a{99999999999}", "ORDER_ID_PATTERN repeats more than 1000 times"),
        ("a{2,5000}", "ORDER_ID_PATTERN repeats more than 1000 times"),
        (r"(\w)\1", "ORDER_ID_PATTERN is not a regular expression RE2 accepts"),
        (r"(?<=#)W[0-9]+", "ORDER_ID_PATTERN is not a regular expression RE2 accepts"),
        ("[a-", "ORDER_ID_PATTERN is not a regular expression RE2 accepts"),
    ],
)
def test_an_unusable_pattern_is_one_line_at_start_up(capsys, monkeypatch, pattern, message):
    monkeypatch.setenv("ORDER_ID_PATTERN", pattern)
    code, out, err = run_cli(capsys, "ORD-1001")
    assert (code, out) == (2, "")
    assert err.startswith(f"track-order: error: {message}") and err.count("\n") == 1
    assert "Traceback" not in err and "Error parsing" not in err  # nor RE2's own log line


def test_a_posix_class_pattern_says_nothing_of_its_own():
    import warnings

    from order_tracking.core.settings import Settings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Python's re printed "FutureWarning: Possible nested set"
        ids = Settings.from_env({"ORDER_ID_PATTERN": "[[:digit:]]+"}).order_ids
        assert ids.parse("1001") == "1001" and not ids.matches("10a1")


def test_a_catastrophic_pattern_cannot_hang_the_process(tmp_path):
    """``(a+)+$`` against 40 a's and a '!' backtracks 2**40 steps in Python's re (only kill -9
    stopped it); RE2 answers at once. The timeout is the hang detector, not a measurement."""
    import os
    import subprocess

    from helpers import TRACK_ORDER

    env = {**os.environ, "ORDER_ID_PATTERN": "(a+)+$"}
    done = subprocess.run(
        [TRACK_ORDER, "a" * 40 + "!", "a" * 40],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"track-order: error: invalid order id '{'a' * 40}!': "
        "expected an id matching ORDER_ID_PATTERN '(a+)+$'\n"
    )
    assert OrderIdPattern("(a+)+$").matches("a" * 5000 + "!") is False
