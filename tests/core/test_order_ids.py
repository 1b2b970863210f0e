"""Order ids from strangers: arguments, files, stdin. Every id is checked before anything runs;
anything that is not one is a single line naming where, read within bounded memory."""

from __future__ import annotations

import io
import re

import pytest
from helpers import run_cli
from hypothesis import example, given
from hypothesis import strategies as st

from order_tracking.core.order_ids import MAX_LINE_BYTES, InvalidOrderId, OrderIds, parse_order_id

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
