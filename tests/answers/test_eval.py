"""``track-order eval``: the package's eval sets (ADK's format, current with the data), the
offline model scoring 1.0 everywhere, each metric lowered by exactly the mistake it measures,
the exit code following the thresholds, models side by side, and eval-set files from
strangers read safely."""

import json
import re
from pathlib import Path

import pytest
from helpers import run_cli, scripted_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai_stub import PLANTED

from order_tracking import composition
from order_tracking.answers.evaluation import (
    EvalFileError,
    Thresholds,
    evaluate,
    load_set,
    percentile,
    render_table,
    response_match,
    rows_of,
    shipped_sets,
    trajectory_score,
)
from order_tracking.backends import mock_backends
from order_tracking.core.settings import OFFLINE_MODEL, Settings

AGENTS = [
    "coordinator",
    "inventory_agent",
    "order_status_agent",
    "payment_agent",
    "shipping_agent",
    "support_agent",
]
ROW = re.compile(
    r"(?P<model>\S+)\s+(?P<agent>\w+)\s+(?P<cases>\d+)\s+(?P<trajectory>[\d.]+)\s+"
    r"(?P<response>[\d.]+)\s+(?P<checked>[\d.]+)\s+(?P<tokens>\d+)\s+(?P<cost>[\d.]+)\s+"
    r"(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)\s+(?P<errors>\d+)"
)


def _rows(out: str) -> dict[tuple[str, str], dict[str, str]]:
    found = {}
    for line in out.splitlines()[2:]:
        if match := ROW.fullmatch(line):
            found[match["model"], match["agent"]] = match.groupdict()
    return found


def _cases(*sets: str):
    return [c for p in shipped_sets() if p.name.split(".")[0] in sets for c in load_set(p)]


async def _scores(scripts, *sets: str):
    """(agent -> its row) for the offline model scripted by ``scripts``, on ``sets``."""
    app = composition.build(
        Settings(default_model=OFFLINE_MODEL),
        models=scripted_models(scripts),
        backends=mock_backends(),
        traced=False,
    )
    results = await evaluate(_cases(*sets), {"scripted": app}, concurrency=4)
    return {row.agent: row for row in rows_of(results)}, results


def test_the_shipped_sets_are_what_the_script_writes():
    from scripts.make_evalsets import FOLDER, build_sets

    written = build_sets()
    assert sorted(written) == sorted(p.name for p in shipped_sets())
    for name, text in written.items():
        assert (FOLDER / name).read_text(encoding="utf-8") == text, (
            f"{name} is not current: uv run python -m scripts.make_evalsets, review the diff"
        )


def test_adk_reads_the_shipped_sets():
    from google.adk.evaluation.local_eval_sets_manager import load_eval_set_from_file

    for path in shipped_sets():
        eval_set = load_eval_set_from_file(str(path), path.name.split(".")[0])
        assert eval_set.eval_cases and all(c.conversation for c in eval_set.eval_cases)
    cases = [c for p in shipped_sets() for c in load_set(p)]
    # Every specialist on every order of the data and one unknown; the coordinator's routing,
    # follow-ups and refusals.
    assert {c.agent for c in cases} == set(AGENTS)
    assert len(cases) == 4 * 5 + 3 + 11
    follow_up = next(c for c in cases if c.case_id == "follow-up")
    assert [t.expected_tools[0] for t in follow_up.turns] == [
        ("transfer_to_agent", '{"agent_name": "shipping_agent"}'),
        ("transfer_to_agent", '{"agent_name": "payment_agent"}'),
        ("transfer_to_agent", '{"agent_name": "inventory_agent"}'),
    ]
    refusals = [c for c in cases if c.case_id.startswith(("injection", "out-of-scope"))]
    assert len(refusals) == 3 and all(c.turns[0].expected_tools == () for c in refusals)


def test_the_offline_model_scores_one_everywhere(capsys, cli_env):
    code, out, err = run_cli(capsys, "eval")
    assert code == 0, out
    rows = _rows(out)
    assert sorted(agent for _, agent in rows) == AGENTS
    for row in rows.values():
        assert (row["model"], row["trajectory"], row["response"], row["checked"]) == (
            OFFLINE_MODEL,
            "1.00",
            "1.00",
            "1.00",
        )
        assert row["errors"] == "0" and int(row["tokens"]) > 0
    assert out.endswith("\nthresholds: trajectory ≥ 1.00, response ≥ 0.80, checked ≥ 1.00\nPASS\n")
    assert err == ""


async def test_a_skipped_tool_lowers_the_trajectory_and_not_the_check():
    rows, _ = await _scores({"support_agent": {"hide": ("get_payment_status",)}}, "support_agent")
    support = rows["support_agent"]
    assert support.trajectory == 0.0 and support.checked == 1.0
    assert support.response < 1.0  # the payment sentence is missing


async def test_a_wrong_fact_lowers_the_check_and_not_the_trajectory():
    def planted(text: str) -> str:
        for real, wrong in PLANTED.items():
            text = text.replace(real, wrong)
        return text

    rows, results = await _scores({"shipping_agent": {"rewrite": planted}}, "shipping_agent")
    shipping = rows["shipping_agent"]
    # Only ORD-1001's answer has the planted facts: 3 of the 4 answers are verified.
    assert (shipping.trajectory, shipping.checked) == (1.0, 0.75)
    assert 0.8 < shipping.response < 1.0  # two words of twelve differ: ROUGE barely notices
    (wrong,) = [t for r in results for t in r.turns if not t.verified]
    assert wrong.unsupported == ("1Z999AA1099999999", "2024-01-21")


async def test_a_paraphrase_lowers_only_the_response_match():
    paraphrase = "Your payment for this order went through; the amount was charged in full."
    rows, _ = await _scores({"payment_agent": {"rewrite": lambda _t: paraphrase}}, "payment_agent")
    payment = rows["payment_agent"]
    assert (payment.trajectory, payment.checked) == (1.0, 1.0)
    assert payment.response < 0.3


async def test_a_call_with_the_wrong_arguments_lowers_the_trajectory():
    wrong_order = {"args": {"get_shipping_details": {"order_id": "ORD-1002"}}}
    rows, results = await _scores({"shipping_agent": wrong_order}, "shipping_agent")
    shipping = rows["shipping_agent"]
    # Only the case about ORD-1002 made its expected call; the other three answers are
    # about ORD-1002 too, looked up for no order that was asked: none is verified.
    assert (shipping.trajectory, shipping.checked) == (0.25, 0.25)
    assert shipping.response < 1.0
    unverified = [t for r in results for t in r.turns if not t.verified]
    assert len(unverified) == 3 and all("ORD-1002" not in t.question for t in unverified)


async def test_an_answer_with_no_lookup_for_the_asked_order_is_counted_unchecked():
    # A payment agent that never calls its tool and answers anyway ("Your order is
    # completed."): no claim to check, but nothing to stand on either.
    scripts = {"payment_agent": {"hide": ("get_payment_status",),
                                 "rewrite": lambda _t: "Your order is completed."}}  # fmt: skip
    rows, results = await _scores(scripts, "payment_agent")
    assert rows["payment_agent"].checked == 0.0
    assert {t.verified for r in results for t in r.turns} == {False}


async def test_a_coordinator_that_cannot_route_lowers_its_trajectory_and_response():
    rows, results = await _scores(
        {"coordinator_agent": {"hide": ("transfer_to_agent",)}}, "coordinator"
    )
    coordinator = rows["coordinator"]
    first_turns = {r.case.case_id: r.turns[0] for r in results}
    assert all(
        first_turns[case].trajectory == 0.0
        for case in first_turns
        if case.startswith(("route", "follow"))
    )
    # The refusals are still right: no call made, the same answer.
    assert all(
        first_turns[case].trajectory == 1.0 and first_turns[case].response == 1.0
        for case in ("out-of-scope", "greeting", "injection-system-prompt", "injection-card-data")
    )
    assert coordinator.checked == 1.0 and coordinator.response < 0.5


async def test_a_detour_through_another_agent_still_makes_the_expected_calls():
    # The coordinator sends everything to support, which hands each question on (ADK's
    # ANY_ORDER: the expected calls were made; the detour shows in tokens and latency).
    wrong_route = {"args": {"transfer_to_agent": {"agent_name": "support_agent"}}}
    detour, _ = await _scores({"coordinator_agent": wrong_route}, "coordinator")
    direct, _ = await _scores({}, "coordinator")
    assert (detour["coordinator"].trajectory, detour["coordinator"].response) == (1.0, 1.0)
    assert detour["coordinator"].tokens > direct["coordinator"].tokens


async def test_a_failing_model_counts_as_errors_and_fails_the_gate():
    from helpers import ProviderDown

    offline = scripted_models({})

    def models(name):
        return ProviderDown(model="down") if name == "shipping_agent" else offline(name)

    app = composition.build(
        Settings(default_model=OFFLINE_MODEL), models=models, backends=mock_backends(), traced=False
    )
    results = await evaluate(_cases("shipping_agent", "payment_agent"), {"m": app}, concurrency=4)
    rows = {row.agent: row for row in rows_of(results)}
    shipping = rows["shipping_agent"]
    assert (shipping.errors, shipping.trajectory, shipping.response, shipping.checked) == (
        4,
        0.0,
        0.0,
        None,
    )
    assert shipping.first_error == "ConnectionError: payment provider is down"
    assert rows["payment_agent"].shortfalls(Thresholds()) == []
    table = render_table(list(rows.values()), Thresholds(0, 0, 0))
    assert (
        "\nerrors: m: 4 turns failed, the first with ConnectionError: payment provider is down\n"
        in table
    )
    assert "\nbelow: m · shipping_agent: 4 of 4 turns failed\nFAIL" in table


async def test_the_eval_checks_answers_whatever_answer_check_says():
    def planted(text: str) -> str:
        for real, wrong in PLANTED.items():
            text = text.replace(real, wrong)
        return text

    from order_tracking.answers.policy import CheckPolicy

    app = composition.build(
        Settings(default_model=OFFLINE_MODEL, answer_check=CheckPolicy.OFF),
        models=scripted_models({"shipping_agent": {"rewrite": planted}}),
        backends=mock_backends(),
        traced=False,
    )
    results = await evaluate(_cases("shipping_agent"), {"m": app}, concurrency=4)
    assert rows_of(results)[0].checked == 0.75


def test_the_exit_code_follows_the_thresholds_and_models_sit_side_by_side(
    capsys, cli_env, stub, tmp_path
):
    shipping = next(p for p in shipped_sets() if p.name.startswith("shipping_agent"))
    argv = ["eval", str(shipping), "--model", "offline", "--model", "openai/planted"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1
    rows = _rows(out)
    assert set(rows) == {(OFFLINE_MODEL, "shipping_agent"), ("openai/planted", "shipping_agent")}
    assert rows[OFFLINE_MODEL, "shipping_agent"]["checked"] == "1.00"
    assert rows["openai/planted", "shipping_agent"]["checked"] == "0.75"
    assert "\nbelow: openai/planted · shipping_agent: checked 0.75 < 1.00\nFAIL\n" in out
    assert err == ""  # models were named: no note about the offline default

    code, out, _ = run_cli(capsys, *argv, "--min-score", "0.7")
    assert code == 0 and out.endswith("\nPASS\n")

    code, out, _ = run_cli(capsys, *argv, "--json", "--min-score", "0.7", "--min-response", "1")
    document = json.loads(out)
    assert code == 1 and document["passed"] is False
    assert document["thresholds"] == {"trajectory": 0.7, "response": 1.0, "checked": 0.7}
    planted = [c for c in document["cases"] if c["model"] == "openai/planted"]
    (turn,) = next(c for c in planted if c["eval_id"] == "ORD-1001")["turns"]
    assert turn["unsupported_claims"] == ["1Z999AA1099999999", "2024-01-21"]
    assert turn["tool_calls"] == [
        {"name": "get_shipping_details", "args": {"order_id": "ORD-1001"}}
    ]
    assert all(Path(c["trace_file"]).is_file() for c in document["cases"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it"),
        ("{", "not an ADK eval set (the file: Invalid JSON"),
        ('{"eval_set_id": "x"}', "not an ADK eval set (eval_cases: Field required)"),
        (
            '{"eval_set_id": "x", "eval_cases": [{"eval_id": "a", "conversation": []}]}',
            "case 'a' has no turns",
        ),
        (
            '{"eval_set_id": "x", "eval_cases": [{"eval_id": "a", "conversation_scenario": '
            '{"starting_prompt": "hi", "conversation_plan": "ask"}}]}',
            "case 'a' is a conversation scenario",
        ),
    ],
)
def test_a_bad_eval_file_is_one_line_and_exit_2(content, message, capsys, tmp_path):
    path = tmp_path / "cases.evalset.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run_cli(capsys, "eval", str(path))
    assert (code, out) == (2, "")
    assert (
        err.startswith(f"track-order: error: {path}: ") and message in err and err.count("\n") == 1
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--min-score", "1.5"], "--min-score must be between 0 and 1, got 1.5"),
        (["--min-response", "nan"], "--min-response must be between 0 and 1, got nan"),
        (["--model", " "], "--model needs a model name"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(argv, message, capsys):
    code, _, err = run_cli(capsys, "eval", *argv)
    assert code == 2 and message in err and err.count("\n") == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_json, raw=st.binary(max_size=64))
def test_any_file_is_cases_or_one_error(document, raw, tmp_path):
    for content in (json.dumps(document).encode(), raw):
        path = tmp_path / "any.evalset.json"
        path.write_bytes(content)
        try:
            cases = load_set(path)
        except EvalFileError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(c.turns for c in cases)


@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["{}", '{"x": 1}'])), max_size=5
    ),
    data=st.data(),
)
def test_the_trajectory_ignores_order_and_extra_calls_but_not_missing_ones(calls, data):
    shuffled = data.draw(st.permutations(calls))
    assert trajectory_score(shuffled, calls) == 1.0
    # Extra calls pass, except where no call was expected (a refusal must make none).
    assert trajectory_score([*shuffled, ("c", "{}")], calls) == (1.0 if calls else 0.0)
    if calls:
        assert trajectory_score(shuffled[1:], calls) == 0.0


def test_the_response_match_is_adks_rouge_1():
    assert response_match("Status: shipped", "status shipped") == 1.0
    assert response_match("The order ships", "the order shipped") == 1.0  # Porter stems
    assert response_match("", "anything") == 0.0
    assert round(response_match("a b c d", "a b x y"), 4) == 0.5


def test_percentiles_are_nearest_rank():
    assert percentile([], 50) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_the_table_lists_every_row_below_a_threshold():
    from order_tracking.answers.evaluation import Row

    rows = [
        Row("m", "shipping_agent", 4, 4, 1.0, 0.5, 1.0, 10, 0.0, 0.1, 0.2, 0),
        Row("m", "coordinator", 2, 3, None, None, 0.5, 10, 0.0, 0.1, 0.2, 1, "TimeoutError: slow"),
    ]
    table = render_table(rows, Thresholds())
    assert table.splitlines()[2].split()[3:6] == ["1.00", "0.50", "1.00"]
    assert table.splitlines()[3].split()[3:6] == ["—", "—", "0.50"]
    assert "\nerrors: m: 1 turns failed, the first with TimeoutError: slow\nthresholds:" in table
    assert table.endswith(
        "below: m · shipping_agent: response 0.50 < 0.80\n"
        "below: m · coordinator: checked 0.50 < 1.00\n"
        "below: m · coordinator: 1 of 3 turns failed\nFAIL"
    )
