"""Order data files as a peer (issue 22): one rule for what an id means, JSON read strictly,
control characters refused, a database path that is a file, and ``data generate -o`` whole or
not at all on a full disk."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import TRACK_ORDER, run_cli

MIXED_CASE = "[A-Za-z]{2}-[0-9]+"  # a case-sensitive pattern that takes both spellings


def _order(order_id: str, **changes) -> dict:
    return {
        "order_id": order_id,
        "status": "shipped",
        "placed_date": "2024-03-01",
        "items": [{"sku": "SKU-A", "name": "Thing A", "quantity": 1}],
        "payment": {"status": "captured", "amount": 1.0, "currency": "USD"},
        **changes,
    }


def _write(path: Path, *lines: dict | str) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_two_spellings_of_one_id_are_refused_not_merged(capsys, monkeypatch, tmp_path):
    """``ab-1`` and ``AB-1`` were "Imported 2 orders", one kept, and ``track-order ab-1``
    answered with ``AB-1``'s items and payment."""
    monkeypatch.setenv("ORDER_ID_PATTERN", MIXED_CASE)
    data = _write(
        tmp_path / "orders.jsonl",
        _order("ab-1", payment={"status": "captured", "amount": 10.0, "currency": "USD"}),
        _order("XY-2"),
        _order("AB-1", payment={"status": "refunded", "amount": 99.0, "currency": "EUR"}),
    )
    db = tmp_path / "orders.db"
    code, out, err = run_cli(capsys, "data", "import", str(data), "--db", str(db))
    assert (code, out) == (2, "")
    assert err == (
        f"track-order: error: {data}, lines 1 and 3: one order id written in two cases would "
        "merge two orders into one (ids name one order whatever their case: use one spelling)\n"
    )
    assert not db.exists()


def test_a_stored_order_is_not_replaced_by_another_spelling(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ORDER_ID_PATTERN", MIXED_CASE)
    db = tmp_path / "orders.db"
    first = _write(tmp_path / "first.jsonl", _order("ab-1"))
    assert run_cli(capsys, "data", "import", str(first), "--db", str(db))[0] == 0
    before = db.read_bytes()
    later = _write(tmp_path / "later.jsonl", _order("XY-2"), _order("AB-1"))
    code, _, err = run_cli(capsys, "data", "import", str(later), "--db", str(db))
    assert code == 2
    assert err == (
        f"track-order: error: {later}, line 2: AB-1 would replace the stored order ab-1 "
        "(ids name one order whatever their case: use one spelling)\n"
    )
    assert db.read_bytes() == before
    # The same spelling again replaces it, as a re-import always has.
    again = _write(tmp_path / "again.jsonl", _order("ab-1", status="delivered"))
    assert run_cli(capsys, "data", "import", str(again), "--db", str(db))[0] == 0


@pytest.mark.parametrize(
    "line, message",
    [
        (
            '{"sku": "A", "name": "a", "on_hand": 1, "on_hand": 9}',
            "line 1: on_hand: the field appears twice",
        ),
        (
            json.dumps({**_order("ORD-1"), "status": "shipped", "payment": None}).replace(
                '"payment": null', '"payment": null, "status": "returned"'
            ),
            "line 1: status: the field appears twice",
        ),
        (
            '{"sku": "A", "name": "a", "on_hand": 1, "pri\\nce": 2}',
            "line 1: 'pri\\nce': unknown field",
        ),
        (
            json.dumps(_order("ORD-1", status="in\u001b[2Jtransit")),
            "line 1: status: has control characters",
        ),
        (
            json.dumps({"sku": "A", "name": "Ear\u001b]0;pwned\u0007buds", "on_hand": 1}),
            "line 1: name: has control characters",
        ),
        (
            json.dumps({"sku": "A", "name": "card 4111 1111 1111 1111", "on_hand": 1}),
            "line 1: name: holds a card number",
        ),
    ],
)
def test_a_line_a_reader_could_take_two_ways_is_one_line_refused(capsys, tmp_path, line, message):
    data = _write(tmp_path / "in.jsonl", line)
    code, out, err = run_cli(capsys, "data", "import", str(data), "--db", str(tmp_path / "o.db"))
    assert (code, out) == (2, "")
    assert err == f"track-order: error: {data}, {message}\n"


def _left(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


@pytest.mark.parametrize("kind", ["/dev/null", "fifo"])  # a folder: click's own refusal
def test_a_database_path_that_is_not_a_file_is_refused_and_left_alone(capsys, tmp_path, kind):
    data = _write(tmp_path / "in.jsonl", _order("ORD-1"))
    db = kind if kind.startswith("/") else str(tmp_path / kind)
    if kind == "fifo":
        os.mkfifo(db)
    # /dev is shared with everything on the machine: what this import did is what changed.
    before = [_left(db + suffix) for suffix in ("-journal", "-wal")]
    code, _, err = run_cli(capsys, "data", "import", str(data), "--db", db)
    assert (code, err) == (2, f"track-order: error: {db}: not a regular file\n")
    assert [_left(db + suffix) for suffix in ("-journal", "-wal")] == before
    if kind != "/dev/null":
        assert before == [None, None]


# --- data generate -o on a full disk ---------------------------------------------------------


def _generate(out: Path, count: int, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TRACK_ORDER, "data", "generate", str(count), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        **popen,
    )


def _small_files(limit: int):
    def apply() -> None:  # in the child: a write past `limit` bytes fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_generate_that_cannot_finish_writing_leaves_the_old_file(tmp_path):
    """A write that fails half-way (here the file-size limit, EFBIG; a full disk is ENOSPC,
    next test) replaced a good file with a truncated one through click's atomic file, and
    ended in a traceback."""
    out = tmp_path / "orders.jsonl"
    assert _generate(out, 5).returncode == 0
    good = out.read_bytes()
    done = _generate(out, 20_000, preexec_fn=_small_files(64 * 1024), cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"track-order: error: cannot write {out}: File too large; nothing was changed there\n"
    )
    assert out.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.jsonl"]  # no partial file


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs: a real full disk (needs root and mount; skipped where either is
    missing, the file-size test above covers the code path everywhere)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root on Linux")
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_generate_on_a_full_disk_leaves_the_old_file(tiny_disk):
    out = tiny_disk / "orders.jsonl"
    assert _generate(out, 5).returncode == 0
    good = out.read_bytes()
    done = _generate(out, 20_000)
    assert done.returncode == 2
    assert done.stderr == (
        f"track-order: error: cannot write {out}: No space left on device; "
        "nothing was changed there\n"
    )
    assert out.read_bytes() == good
    assert [p.name for p in tiny_disk.iterdir()] == ["orders.jsonl"]
