"""Settings: which model each agent gets, and where configuration comes from."""

import io
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_tracking.composition import announce_model_choice
from order_tracking.core.settings import OFFLINE_MODEL, ConfigError, Settings, load_env_files


def test_nothing_configured_means_the_offline_model_and_a_notice():
    settings = Settings.from_env({})
    assert settings.model_for("payment_agent") == OFFLINE_MODEL
    assert settings.offline_fallback
    out = io.StringIO()
    announce_model_choice(settings, out)
    assert out.getvalue() == (
        "No SHIPPING_MODEL and no OPENAI_API_KEY set: using the built-in offline model "
        "(offline/rule-based), a rule-based stand-in, not an LLM.\n"
    )


def test_an_openai_key_alone_selects_the_articles_gpt_4o():
    settings = Settings.from_env({"OPENAI_API_KEY": "sk-x"})
    assert settings.model_for("shipping_agent") == "gpt-4o"
    assert not settings.offline_fallback and not settings.uses_offline_model


def test_shipping_model_sets_all_and_agent_variables_override_one():
    settings = Settings.from_env(
        {
            "OPENAI_API_KEY": "sk-x",
            "SHIPPING_MODEL": "gemini/gemini-2.0-flash",
            "PAYMENT_AGENT_MODEL": "offline",
            "COORDINATOR_AGENT_MODEL": "anthropic/claude-3-5-sonnet-20241022",
        }
    )
    assert settings.model_for("order_status_agent") == "gemini/gemini-2.0-flash"
    assert settings.model_for("payment_agent") == OFFLINE_MODEL  # "offline" is the short name
    assert settings.model_for("coordinator_agent") == "anthropic/claude-3-5-sonnet-20241022"
    assert settings.uses_offline_model and not settings.offline_fallback
    out = io.StringIO()
    announce_model_choice(settings, out)
    assert out.getvalue() == ""  # chosen on purpose: nothing to announce


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"OFFLINE_MODEL_LATENCY_S": "abc"},
            "OFFLINE_MODEL_LATENCY_S must be a number, got 'abc'",
        ),
        (
            {"OFFLINE_MODEL_LATENCY_S": "-1"},
            "OFFLINE_MODEL_LATENCY_S must not be negative, got '-1'",
        ),
        ({"MODEL_TIMEOUT_S": "0"}, "MODEL_TIMEOUT_S must be greater than 0"),
        ({"AGENT_TIMEOUT_S": "nan"}, "AGENT_TIMEOUT_S must be a finite number, got 'nan'"),
        ({"MODEL_TIMEOUT_S": "NaN"}, "MODEL_TIMEOUT_S must be a finite number, got 'NaN'"),
        (
            {"MAX_COST_USD_PER_RUN": "nan"},
            "MAX_COST_USD_PER_RUN must be a finite number, got 'nan'",
        ),
        ({"CIRCUIT_COOLDOWN_S": "inf"}, "CIRCUIT_COOLDOWN_S must be a finite number, got 'inf'"),
        (
            {"OFFLINE_MODEL_LATENCY_S": "-inf"},
            "OFFLINE_MODEL_LATENCY_S must be a finite number, got '-inf'",
        ),
        ({"AGENT_TIMEOUT_S": "1e308"}, "AGENT_TIMEOUT_S must be at most 86400, got '1e308'"),
        (
            {"CIRCUIT_FAILURE_THRESHOLD": "0"},
            "CIRCUIT_FAILURE_THRESHOLD must be at least 1, got '0'",
        ),
        ({"MODEL_RETRIES": "2.5"}, "MODEL_RETRIES must be a whole number, got '2.5'"),
    ],
)
def test_unusable_numbers_are_config_errors(env, message):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert str(error.value) == message


def test_environment_beats_package_env_beats_cwd_env(tmp_path, monkeypatch, package_env):
    monkeypatch.delenv("SHIPPING_MODEL")
    monkeypatch.setenv("PAYMENT_AGENT_MODEL", "from-environment")
    package_env.write_text("SHIPPING_MODEL=from-package\nPAYMENT_AGENT_MODEL=from-package\n")
    (tmp_path / ".env").write_text(
        "SHIPPING_MODEL=from-cwd\nPAYMENT_AGENT_MODEL=from-cwd\nOFFLINE_MODEL_LATENCY_S=0.25\n"
    )
    try:
        loaded = load_env_files(cwd=tmp_path)
        settings = Settings.from_env()
    finally:  # load_dotenv writes os.environ directly: undo what it added
        os.environ.pop("SHIPPING_MODEL", None)
        os.environ.pop("OFFLINE_MODEL_LATENCY_S", None)
    assert loaded == [package_env, tmp_path / ".env"]
    assert settings.model_for("order_status_agent") == "from-package"
    assert settings.model_for("payment_agent") == "from-environment"
    assert settings.offline_latency_s == 0.25  # what only the cwd file sets still applies


def test_adks_switch_turns_env_files_off(tmp_path, package_env):
    (tmp_path / ".env").write_text("SHIPPING_MODEL=from-cwd\n")
    assert load_env_files(cwd=tmp_path, env={"ADK_DISABLE_LOAD_DOTENV": "1"}) == []
    assert os.environ["SHIPPING_MODEL"] == "offline"


def test_unknown_per_agent_variables_are_rejected_when_agents_are_known():
    names = ["payment_agent", "shipping_agent"]
    assert Settings.from_env({"PAYMENT_AGENT_MODEL": "x"}, agent_names=names)
    with pytest.raises(ConfigError, match="^PAYMNT_AGENT_MODEL names no agent; "):
        Settings.from_env({"PAYMNT_AGENT_MODEL": "x"}, agent_names=names)


def test_notice_is_precise_when_some_agents_have_their_own_model():
    out = io.StringIO()
    announce_model_choice(Settings.from_env({"PAYMENT_AGENT_MODEL": "gpt-4o"}), out)
    assert out.getvalue().startswith(
        "No SHIPPING_MODEL and no OPENAI_API_KEY set: the agents without their own "
        "*_AGENT_MODEL use the built-in offline model"
    )


def test_trace_folder_comes_from_monocles_variable():
    assert Settings.from_env({}).trace_dir == Path(".monocle")
    assert Settings.from_env({"MONOCLE_TRACE_OUTPUT_PATH": "/tmp/t"}).trace_dir == Path("/tmp/t")


NUMERIC = {
    # variable: (Settings field, kind)
    "AGENT_TIMEOUT_S": ("agent_timeout_s", float),
    "MODEL_TIMEOUT_S": ("model_timeout_s", float),
    "MODEL_RETRIES": ("model_retries", int),
    "CIRCUIT_FAILURE_THRESHOLD": ("circuit_threshold", int),
    "CIRCUIT_COOLDOWN_S": ("circuit_cooldown_s", float),
    "MAX_MODEL_CALLS_PER_AGENT": ("max_model_calls_per_agent", int),
    "MAX_TOKENS_PER_RUN": ("max_tokens_per_run", int),
    "MAX_COST_USD_PER_RUN": ("max_cost_usd_per_run", float),
    "MAX_INPUT_CHARS": ("max_input_chars", int),
    "OKAHU_EXPORT_TIMEOUT_S": ("okahu_export_timeout_s", float),
    "OFFLINE_MODEL_LATENCY_S": ("offline_latency_s", float),
}
NUMBERISH = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**15), max_value=10**15).map(str),
    st.integers(min_value=10**15, max_value=10**400).map(str),  # beyond any range, and floats
    st.sampled_from(["nan", "inf", "-inf", "Infinity", "1e400", "0x10", "1_000", " 7 ", ""]),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(NUMERIC)), raw=NUMBERISH)
def test_every_numeric_setting_is_a_finite_number_in_range_or_an_error_naming_it(name, raw):
    try:
        value = getattr(Settings.from_env({name: raw}), NUMERIC[name][0])
    except ConfigError as error:
        assert str(error).startswith(f"{name} must ")
        assert len(str(error)) < 140  # a huge value is not echoed back whole
        return
    assert isinstance(value, NUMERIC[name][1]) and math.isfinite(value) and value >= 0
