"""The answer check against hostile answers (issue 22): linear time by construction (every
pattern on RE2, none with nested unbounded repetition), a bounded text, run off the event
loop within the run's deadline; look-alike letters and hyphens read as what they imitate."""

from __future__ import annotations

import ast
import asyncio
import importlib
import pkgutil
import re._parser as sre_parse
import threading
from pathlib import Path
from types import ModuleType

import pytest
from helpers import run_cli, scripted_models
from hypothesis import example, given
from hypothesis import strategies as st
from labelled_answers import SHIPPED

import order_tracking.answers as answers_package
from order_tracking import composition
from order_tracking.answers.check import MAX_CHECKED_CHARS, check_answer, extract_claims
from order_tracking.answers.claims import MAX_CLAIMS
from order_tracking.answers.engine import Pattern
from order_tracking.answers.fold import fold
from order_tracking.answers.ids import OrderIdFinder
from order_tracking.answers.policy import AnswerCheck
from order_tracking.async_runner import prompt_for, run_agent_task
from order_tracking.core.results import RunLimits, Status
from order_tracking.core.settings import OFFLINE_MODEL, Settings

ANSWERS = Path(answers_package.__file__).parent


def _modules():
    for info in pkgutil.walk_packages([str(ANSWERS)], "order_tracking.answers."):
        yield importlib.import_module(info.name)


def _patterns():
    """Every compiled pattern the answers wing holds at module level (in lists too)."""
    seen = {}
    for module in _modules():
        stack = list(vars(module).values())
        while stack:
            value = stack.pop()
            if isinstance(value, (list, tuple)):
                stack.extend(value)
            elif hasattr(value, "finditer") and not isinstance(value, (type, ModuleType)):
                seen[id(value)] = (module.__name__, value)
    return list(seen.values())


def test_the_answers_wing_uses_no_backtracking_regex_engine():
    for path in ANSWERS.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not {"re", "regex", "sre_compile"} & set(names), path


def _nested_unbounded(parsed, inside: bool = False) -> bool:
    """Whether a parsed pattern has a repetition inside an unbounded one."""
    for op, av in parsed:
        if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
            _, high, sub = av
            if inside or _nested_unbounded(sub, high == sre_parse.MAXREPEAT):
                return True
        elif op in (sre_parse.SUBPATTERN, sre_parse.BRANCH):
            branches = [av[3]] if op == sre_parse.SUBPATTERN else av[1]
            if any(_nested_unbounded(branch, inside) for branch in branches):
                return True
    return False


def test_every_pattern_is_re2_and_none_nests_unbounded_repetition():
    patterns = _patterns()
    assert len(patterns) >= 25
    for module, pattern in patterns:
        assert isinstance(pattern, Pattern), (module, pattern.pattern)
        assert type(pattern._program).__module__.startswith("re2"), module
        source = pattern.pattern.decode("latin-1")
        assert not _nested_unbounded(sre_parse.parse(source)), (module, source)
    # The check itself: the test would catch such a pattern.
    assert _nested_unbounded(sre_parse.parse(r"(?:\d{1,3},)+\d+"))
    assert not _nested_unbounded(sre_parse.parse(r"(?:\S+\s+){0,2}$"))


def test_a_catastrophic_order_id_pattern_runs_in_linear_time_on_re2():
    finder = OrderIdFinder("(a+)+$")
    assert list(finder.spans(b"a" * 100_000 + b"!")) == []  # Python's re would not return
    assert list(finder.spans(b"x aaa")) == [(2, 5)]
    check = composition.answer_check(Settings(default_model=OFFLINE_MODEL))
    assert check.ids.pattern is None


# The reproduction: ~100 KB of comma-grouped digits (36 s on the old money pattern).
DIGITS = "111," * 25_000


def test_the_frozen_answer_is_now_cut_and_not_verified():
    verdict = check_answer(DIGITS, SHIPPED, order_id="ORD-1001")
    assert verdict.cut and not verdict.verified


HOSTILE = st.one_of(
    st.text(
        alphabet=st.sampled_from(
            list("0123456789,.$€£ :|{}[]\"'-\n\tSKUORDAPLunits")
            + ["Р", "А", "Ј", "е", "\u2010", "\u200b", "ſ", "İ", "Ｕ", "→", "—", "٣", "\x00"]
        ),
        max_size=3000,
    ),
    st.builds(
        lambda chunk, times: chunk * times,
        st.sampled_from(["111,", "1,", '{"a": ', "| x ", "SKU-A ", "ORD-1 ", "UPS ",
                         "\u200b", "Ра", "refund ", "2024-01-", "**", "a: b\n", "$1 "]),
        st.integers(1, 12_000),
    ),
)  # fmt: skip


@given(HOSTILE)
@example(DIGITS)
@example("ORD-1001 " * 6000)
def test_hostile_text_through_the_real_check(text):
    verdict = check_answer(text, SHIPPED, order_id="ORD-1001")
    assert set(verdict.unsupported) <= set(verdict.claims)
    assert len(verdict.claims) <= MAX_CLAIMS
    for claim in verdict.claims:
        assert text[claim.start : claim.start + len(claim.text)] == claim.text
    if len(text) > MAX_CHECKED_CHARS:
        assert verdict.cut and not verdict.verified


@given(HOSTILE)
def test_hostile_text_through_the_policy_keeps_the_answer(text):
    review = asyncio.run(
        AnswerCheck().review_within(None, "shipping_agent", text, [("t", SHIPPED[1])])
    )
    assert review.text == text and review.failure is None


class _Held(AnswerCheck):
    """A check that waits for ``release`` before it gives its verdict."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        object.__setattr__(self, "release", release)

    def verdict(self, *args, **kwargs):
        assert self.release.wait(30), "the event loop never ran while the check did"
        return super().verdict(*args, **kwargs)


async def test_the_check_runs_off_the_event_loop():
    release = threading.Event()
    ticks = 0

    async def ticker():
        nonlocal ticks
        while ticks < 3:
            await asyncio.sleep(0.01)
            ticks += 1
        release.set()  # the loop ran three times while the check was waiting

    tick = asyncio.create_task(ticker())
    review = await _Held(release).review_within(None, "shipping_agent", DIGITS, [])
    await tick
    assert ticks == 3 and review.verified is False and review.cut


async def test_a_check_that_cannot_finish_in_time_is_a_failed_check_the_answer_kept():
    release = threading.Event()
    try:
        review = await _Held(release).review_within(0.0, "shipping_agent", "UPS", [])
    finally:
        release.set()
    assert (review.verified, review.text) == (False, "UPS")
    assert review.reason == "could not be checked (the check did not finish in the 0.00s left)"


async def test_the_runner_checks_within_the_agents_deadline():
    release = threading.Event()
    settings = Settings(default_model=OFFLINE_MODEL)
    app = composition.build(settings, models=scripted_models({}), traced=False)
    agent = next(a for a in app.agents if a.name == "shipping_agent")
    warm = await run_agent_task(agent, prompt_for("ORD-1001"), "w", limits=RunLimits())
    assert warm.ok  # the libraries are loaded: the next run's model call is quick
    try:
        result = await run_agent_task(
            agent,
            prompt_for("ORD-1001"),
            "s",
            limits=RunLimits(deadline_s=3.0),
            check=_Held(release),
            order_id="ORD-1001",
        )
    finally:
        release.set()
    assert (result.status, result.verified) == (Status.UNVERIFIED, False)
    assert result.error.startswith("could not be checked (the check did not finish in the ")
    assert result.text  # the answer is kept


# Look-alike letters and hyphens (issue 22, item 10): folded before claims are read.
@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("FеdЕx", b"FedEx"),  # Cyrillic е, Е
        ("UРS", b"UPS"),  # Cyrillic Р
        ("ЈАN", b"JAN"),  # Cyrillic Ј, А
        ("ORD\u20101001", b"ORD-1001"),  # U+2010 HYPHEN
        ("ORD\u22121001", b"ORD-1001"),  # MINUS SIGN
        ("UP\u200bS", b"UPS"),  # a zero-width space
        ("ＵＰＳ", b"UPS"),  # fullwidth
        ("٢٠٢٤-٠١-١٨", b"2024-01-18"),  # Arabic-Indic digits
        ("Іn transit", b"In transit"),  # a Cyrillic capital that looks like I and l
        ("Ꭵn", b"in"),  # Cherokee, by Unicode's confusables table alone
        ("€5 → 6 — ok", b"\x805 \x81 6 \x82 ok"),  # symbols the patterns read
    ],
)
def test_look_alikes_are_read_as_what_they_imitate(written, read):
    assert fold(written).data == read


def test_a_claim_is_quoted_as_written_and_valued_as_read():
    (claim,) = extract_claims("Shipped with FеdЕx.")[1:]
    assert (claim.kind, claim.text, claim.value) == ("carrier", "FеdЕx", "FEDEX")
    (claim,) = extract_claims("Tracking: 1Z\u200b999AA1099999999")
    assert claim.text == "1Z\u200b999AA1099999999" and claim.value == "1Z999AA1099999999"


@given(st.text(max_size=300))
def test_folding_any_text_maps_back_inside_it(text):
    folded = fold(text)
    assert len(folded.data) <= 3 * len(text)
    for start in range(len(folded.data)):
        begin, end = folded.where(start, start + 1)
        assert 0 <= begin < end <= len(text)
    if text.isascii() and text.isprintable():  # markdown's marks read as spaces
        marks = text.replace("**", "  ").replace("__", "  ").replace("`", " ")
        assert folded.data == marks.encode() and folded.origin is None


def test_an_order_id_pattern_the_check_cannot_run_is_refused_at_start_up(
    capsys, cli_env, monkeypatch
):
    monkeypatch.setenv("ORDER_ID_PATTERN", "(?<![A-Z])ORD-[0-9]+")
    code, out, err = run_cli(capsys, "ORD-1001")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("track-order: error: ") and "ORDER_ID_PATTERN" in line


def test_the_benchmark_of_hostile_answers_runs(capsys):
    from benchmarks.answer_check import ADVERSARIAL, adversarial

    adversarial(None, 0, sizes=[100, 1000])
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "| input | 0.1 KB | 1 KB |" and len(rows) == 2 + len(ADVERSARIAL)
