"""Settings: CLI flags > environment > TOML file in the user config dir > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
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


class _AliasEnvSource(PydanticBaseSettingsSource):
    """Environment variables by their documented names only (`RA_HOME`, `OPENAI_API_KEY`, ...).

    pydantic-settings' own env source also matches field names, so `HOME` would fill `home`.
    Empty variables count as unset.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        alias = field.validation_alias
        name = alias if isinstance(alias, str) else field_name.upper()
        return os.environ.get(name) or None, name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[name] = value
        return values


class Settings(BaseSettings):
    """All user-facing configuration. Environment names are the field names upper-cased."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

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
    request_timeout: float = Field(
        default=60.0,
        validation_alias="RA_TIMEOUT",
        description="seconds the model server may stay silent (before the first token or"
        " between chunks) before the attempt counts as timed out",
    )
    connect_timeout: float = Field(
        default=5.0,
        validation_alias="RA_CONNECT_TIMEOUT",
        description="seconds to open a connection to the model server",
    )
    total_timeout: float = Field(
        default=120.0,
        validation_alias="RA_TOTAL_TIMEOUT",
        description="seconds to wait for the model's answer to start, all retries included",
    )
    max_retries: int = Field(
        default=3,
        validation_alias="RA_MAX_RETRIES",
        description="retries of a failed model call (timeouts, lost connections, 429, 5xx)",
    )

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
        return (init_settings, _AliasEnvSource(settings_cls), toml)

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
    unknown = set(overrides) - set(Settings.model_fields)
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
