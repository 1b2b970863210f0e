"""``submit`` with several orders prints what ``track-order`` prints for a batch: each order's
report as it finishes, then the same summary table."""

from __future__ import annotations

import re

from helpers import run_cli


def test_submit_of_several_orders_ends_with_track_orders_summary_table(capsys, temporal_env):
    code, out, err = run_cli(capsys, "submit", "ORD-1001", "ORD-1003")
    assert code == 0, err
    assert out.count("=== Order Tracking Results for ") == 2
    table = out[out.index("order     ok  failed") :].splitlines()
    assert re.fullmatch(r"order +ok +failed +wall s +tokens +cost \$", table[0])
    assert sorted(line.split()[0] for line in table[2:4]) == ["ORD-1001", "ORD-1003"]
    assert re.fullmatch(r"2 orders +10 +0 +\d+ +0\.0000", table[-1])


def test_submit_json_and_no_wait_print_no_table(capsys, temporal_env):
    code, out, _ = run_cli(capsys, "submit", "ORD-1001", "ORD-1002", "--json")
    assert code == 0 and "orders" not in out.splitlines()[-1]
    code, out, _ = run_cli(capsys, "submit", "ORD-1001", "ORD-1002", "--no-wait")
    assert code == 0 and len(out.splitlines()) == 2
