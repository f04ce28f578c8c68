"""Settings: CLI flags > environment > TOML file > defaults, each field with bounds and a
description (shown by `ra config`), and every bad value reported as one line naming the
setting and where it came from.

A plain pydantic model: `load_settings` layers the three sources itself (a few lines), so
every command's start skips pydantic-settings and the asyncio it imports (~90 ms).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from assistant.config_file import ConfigError, ConfigFile, read_config_file
from retrieval.config import EmbeddingName, RetrievalConfig

OFFLINE_MODEL = "offline"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

__all__ = [
    "DEFAULT_OPENAI_MODEL",
    "OFFLINE_MODEL",
    "ConfigError",
    "Settings",
    "load_settings",
    "origins_of",
    "setting_sources",
]


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("research-assistant"))


def _retrieval_field(name: str, alias: str) -> Any:
    """The retrieval layer's field (default, bounds, description) under its env name:
    the one source of those values."""
    source = RetrievalConfig.model_fields[name]
    return FieldInfo.merge_field_infos(source, validation_alias=alias)


def _check_url(value: str | None, setting: str) -> str | None:
    if value is None:
        return None
    url = urlparse(value if "://" in value else f"http://{value}")
    if url.scheme not in ("http", "https") or not url.hostname or " " in value:
        raise ValueError(f"not a URL like http://127.0.0.1:8000 (for {setting})")
    try:
        url.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"bad port in {value!r} (for {setting})") from None
    return value


class Settings(BaseModel):
    """All user-facing configuration. Each field's environment (and TOML) name is its alias.

    Made by `load_settings` (flags over environment over file); constructing it directly
    reads neither the environment nor the file.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_default=True)
    # Where each value came from (set by `load_settings`), for `ra config`.
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    home: Path = Field(
        default_factory=_default_home,
        validation_alias="RA_HOME",
        description="data directory: the index, caches and conversation history",
    )
    model: str | None = Field(
        default=None,
        validation_alias="RA_MODEL",
        description="'offline' or a model served by the endpoint (default: the OpenAI model "
        "when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline)",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias="OPENAI_API_KEY", description="API key for the endpoint"
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias="OPENAI_BASE_URL",
        description="an OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server)",
    )
    chroma_url: str | None = Field(
        default=None,
        validation_alias="RA_CHROMA_URL",
        description="a Chroma server to use instead of the embedded on-disk store",
    )
    embedding: EmbeddingName = _retrieval_field("embedding", "RA_EMBEDDING")
    chunk_tokens: int = _retrieval_field("chunk_tokens", "RA_CHUNK_TOKENS")
    chunk_overlap: int = _retrieval_field("chunk_overlap", "RA_CHUNK_OVERLAP")
    context_window: int | None = Field(
        default=None,
        ge=512,
        le=10_000_000,
        validation_alias="RA_CONTEXT_WINDOW",
        description="the model's context window in tokens (default: what the server reports,"
        " else the known-models table, else 4096)",
    )
    max_answer_tokens: int = Field(
        default=800,
        ge=16,
        le=100_000,
        validation_alias="RA_MAX_ANSWER_TOKENS",
        description="tokens kept for the answer",
    )
    top_k: int = Field(
        default=6,
        ge=1,
        le=100,
        validation_alias="RA_TOP_K",
        description="papers given to the model per question",
    )
    request_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        validation_alias="RA_TIMEOUT",
        description="seconds the model server may stay silent (before the first token or"
        " between chunks) before the attempt counts as timed out",
    )
    connect_timeout: float = Field(
        default=5.0,
        gt=0,
        le=600,
        validation_alias="RA_CONNECT_TIMEOUT",
        description="seconds to open a connection to the model server",
    )
    total_timeout: float = Field(
        default=120.0,
        gt=0,
        le=36_000,
        validation_alias="RA_TOTAL_TIMEOUT",
        description="seconds to wait for the model's answer to start, all retries included",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        validation_alias="RA_MAX_RETRIES",
        description="retries of a failed model call (timeouts, lost connections, 429, 5xx),"
        " each shown while it waits",
    )

    @field_validator("chroma_url")
    @classmethod
    def _chroma_url(cls, value: str | None) -> str | None:
        return _check_url(value, "RA_CHROMA_URL")

    @field_validator("openai_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return _check_url(value, "OPENAI_BASE_URL")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"RA_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"RA_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

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

    def secrets(self) -> list[str]:
        """The secret values to mask wherever text is printed or saved."""
        key = self.openai_api_key
        return [key.get_secret_value()] if key and key.get_secret_value() else []


def env_name(field_name: str) -> str:
    """The environment (and TOML) name of a settings field."""
    alias = Settings.model_fields[field_name].validation_alias
    return alias if isinstance(alias, str) else field_name.upper()


def setting_sources(overrides: dict[str, Any], file: ConfigFile) -> dict[str, str]:
    """Where every field's value comes from: 'command-line flag', 'environment RA_X',
    'FILE: RA_X' or 'default'."""
    origins: dict[str, str] = {}
    for field_name in Settings.model_fields:
        name = env_name(field_name)
        if overrides.get(field_name) is not None:
            origins[field_name] = "command-line flag"
        elif os.environ.get(name):
            origins[field_name] = f"environment {name}"
        elif name in file.data:
            origins[field_name] = f"{file.path}: {name}"
        else:
            origins[field_name] = "default"
    return origins


def _field_of(loc: tuple[int | str, ...]) -> str | None:
    for part in loc:
        for field_name in Settings.model_fields:
            if part in (field_name, env_name(field_name)):
                return field_name
    return None


def _config_error(exc: ValidationError, origins: dict[str, str]) -> ConfigError:
    """The first validation error as one line: the setting, its value, its source, the fix."""
    error = exc.errors()[0]
    field_name = _field_of(tuple(error["loc"]))
    reason = str(error["msg"]).removeprefix("Value error, ")
    if field_name is None:  # a check across fields
        return ConfigError(f"invalid settings: {reason}", hint="see `ra config`")
    name = env_name(field_name)
    value = error.get("input")
    shown = "***" if field_name == "openai_api_key" else repr(value)
    origin = origins.get(field_name, "default")
    return ConfigError(
        f"{name}={shown} (from {origin}): {reason[0].lower()}{reason[1:]}",
        hint=Settings.model_fields[field_name].description,
    )


def load_settings(**overrides: Any) -> Settings:
    """Settings with CLI-flag overrides (None values are ignored).

    Raises `ConfigError` (one line naming the setting and its source) for a bad value, a
    config file that cannot be read, or a named config file that does not exist.
    """
    unknown = set(overrides) - set(Settings.model_fields)
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    given = {k: v for k, v in overrides.items() if v is not None}
    file = read_config_file()
    unknown_keys = sorted(set(file.data) - {env_name(f) for f in Settings.model_fields})
    if unknown_keys:
        raise ConfigError(
            f"{file.path}: unknown setting {unknown_keys[0]!r}",
            hint="keys are the environment names, e.g. RA_MODEL; see `ra config`",
        )
    origins = setting_sources(given, file)
    # Sources by their documented names only (so `HOME` never fills `home`); empty
    # environment variables count as unset; flags win over the environment over the file.
    values = dict(file.data)
    for field_name in Settings.model_fields:
        name = env_name(field_name)
        if os.environ.get(name):
            values[name] = os.environ[name]
    values.update((env_name(field_name), value) for field_name, value in given.items())
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise _config_error(exc, origins) from None
    settings._origins = origins
    return settings


def origins_of(settings: Settings) -> dict[str, str]:
    """Where each of `settings`' values came from (empty if not made by `load_settings`)."""
    return dict(settings._origins)
