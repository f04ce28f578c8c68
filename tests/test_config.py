"""Settings precedence: flags > environment > TOML file > defaults; documented names only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.config import OFFLINE_MODEL, ConfigError, load_settings, origins_of


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("RA_HOME", "RA_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RA_CONFIG", os.devnull)


def test_flags_beat_env_beat_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text('RA_MODEL = "from-toml"\nRA_TOP_K = 3\nRA_HOME = "/tmp/from-toml"\n')
    monkeypatch.setenv("RA_CONFIG", str(toml))
    assert load_settings().resolved_model == "from-toml"
    assert load_settings().top_k == 3
    monkeypatch.setenv("RA_MODEL", "from-env")
    assert load_settings().resolved_model == "from-env"
    assert load_settings(model="from-flag").resolved_model == "from-flag"
    assert load_settings(home=tmp_path).home == tmp_path


def test_home_variable_does_not_choose_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/tmp/somebody")
    monkeypatch.setenv("MODEL", "not-this")
    settings = load_settings()
    assert settings.home != Path("/tmp/somebody")
    assert settings.resolved_model == OFFLINE_MODEL


def test_default_model_follows_the_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().resolved_model == OFFLINE_MODEL
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert load_settings().resolved_model != OFFLINE_MODEL
    monkeypatch.setenv("RA_MODEL", "")  # empty counts as unset
    assert load_settings().resolved_model != OFFLINE_MODEL


def test_api_key_is_secret_in_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-123")
    settings = load_settings()
    assert "SECRET" not in repr(settings) and "SECRET" not in settings.model_dump_json()


def test_unknown_override_is_refused() -> None:
    with pytest.raises(TypeError, match="nonsense"):
        load_settings(nonsense=1)


def test_a_named_config_file_that_does_not_exist_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("RA_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings()
    assert str(missing) in caught.value.message


def test_bad_values_name_the_setting_and_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RA_TOP_K", "abc")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message.startswith("RA_TOP_K='abc' (from environment RA_TOP_K)")
    monkeypatch.delenv("RA_TOP_K")
    toml = tmp_path / "config.toml"
    toml.write_text("RA_CHUNK_TOKENS = 10\n")
    monkeypatch.setenv("RA_CONFIG", str(toml))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"RA_CHUNK_TOKENS=10 (from {toml}: RA_CHUNK_TOKENS)" in caught.value.message
    assert "32" in caught.value.message  # the bound


def test_bad_toml_unknown_keys_and_bad_urls_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text("RA_TOP_K = 3\nRA_MODEL = nope\n")
    monkeypatch.setenv("RA_CONFIG", str(toml))
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_settings()
    toml.write_text('RA_MODLE = "x"\n')
    with pytest.raises(ConfigError, match="unknown setting 'RA_MODLE'"):
        load_settings()
    monkeypatch.setenv("RA_CONFIG", os.devnull)
    monkeypatch.setenv("RA_CHROMA_URL", "not a url")
    with pytest.raises(ConfigError, match=r"RA_CHROMA_URL.*not a URL"):
        load_settings()


def test_origins_say_where_each_value_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text("RA_TOP_K = 3\n")
    monkeypatch.setenv("RA_CONFIG", str(toml))
    monkeypatch.setenv("RA_MODEL", "offline")
    origins = origins_of(load_settings(home=tmp_path))
    assert origins["home"] == "command-line flag"
    assert origins["model"] == "environment RA_MODEL"
    assert origins["top_k"] == f"{toml}: RA_TOP_K"
    assert origins["max_retries"] == "default"
