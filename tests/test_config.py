"""Settings precedence: flags > environment > TOML file > defaults; documented names only."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import OFFLINE_MODEL, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("RA_HOME", "RA_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RA_CONFIG", str(tmp_path / "missing.toml"))


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
