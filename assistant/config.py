"""Settings: CLI flags > environment > TOML file in the user config dir > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.config import EmbeddingName, RetrievalConfig

OFFLINE_MODEL = "offline"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def config_file() -> Path:
    """The TOML settings file: `RA_CONFIG` or `<user config dir>/research-assistant/config.toml`."""
    explicit = os.environ.get("RA_CONFIG")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_config_dir("research-assistant")) / "config.toml"


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("research-assistant"))


class Settings(BaseSettings):
    """All user-facing configuration. Environment names are the field names upper-cased."""

    # Environment names are the aliases only: with populate_by_name, `HOME` would fill `home`.
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    home: Path = Field(default_factory=_default_home, validation_alias="RA_HOME")
    model: str | None = Field(default=None, validation_alias="RA_MODEL")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    chroma_url: str | None = Field(default=None, validation_alias="RA_CHROMA_URL")
    embedding: EmbeddingName = Field(default="minilm", validation_alias="RA_EMBEDDING")
    chunk_tokens: int = Field(default=180, validation_alias="RA_CHUNK_TOKENS")
    chunk_overlap: int = Field(default=40, validation_alias="RA_CHUNK_OVERLAP")
    context_window: int | None = Field(default=None, validation_alias="RA_CONTEXT_WINDOW")
    max_answer_tokens: int = Field(default=800, validation_alias="RA_MAX_ANSWER_TOKENS")
    top_k: int = Field(default=6, validation_alias="RA_TOP_K")
    request_timeout: float = Field(default=60.0, validation_alias="RA_TIMEOUT")
    max_retries: int = Field(default=3, validation_alias="RA_MAX_RETRIES")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)

    @property
    def resolved_model(self) -> str:
        """`RA_MODEL`, else the OpenAI model when an endpoint is configured, else offline."""
        if self.model:
            return self.model
        if self.openai_api_key or self.openai_base_url:
            return DEFAULT_OPENAI_MODEL
        return OFFLINE_MODEL

    def retrieval(self) -> RetrievalConfig:
        """The retrieval layer's part of the settings."""
        return RetrievalConfig(
            home=self.home,
            chroma_url=self.chroma_url,
            embedding=self.embedding,
            chunk_tokens=self.chunk_tokens,
            chunk_overlap=self.chunk_overlap,
        )


def load_settings(**overrides: Any) -> Settings:
    """Settings with CLI-flag overrides (None values are ignored)."""
    fields = Settings.model_fields
    clean: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in fields:
            raise TypeError(f"unknown setting {key!r}")
        alias = fields[key].validation_alias
        clean[alias if isinstance(alias, str) else key] = value
    return Settings(**clean)
