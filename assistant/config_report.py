"""The effective settings as rows for `ra config`: value (secrets masked), source, meaning."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from assistant.config import Settings, env_name, origins_of
from assistant.config_file import config_path


class SettingRow(BaseModel):
    """One setting as `ra config` shows it."""

    name: str
    value: str
    source: str
    description: str


def _shown(value: object) -> str:
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    return "" if value is None else str(value)


def settings_report(settings: Settings) -> list[SettingRow]:
    """Every setting with its effective value, where it came from and what it means, plus
    the derived values a user asks about (the model in use, the settings file)."""
    origins = origins_of(settings)
    rows = [
        SettingRow(
            name=env_name(name),
            value=_shown(getattr(settings, name)),
            source=origins.get(name, "default"),
            description=field.description or "",
        )
        for name, field in Settings.model_fields.items()
    ]
    path, named = config_path()
    rows.append(
        SettingRow(
            name="RA_CONFIG",
            value=str(path),
            source="environment RA_CONFIG" if named else "default",
            description="the TOML settings file" + ("" if path.exists() else " (none there)"),
        )
    )
    rows.append(
        SettingRow(
            name="model in use",
            value=settings.resolved_model,
            source="RA_MODEL" if settings.model else "derived",
            description="RA_MODEL, else the OpenAI model when an endpoint is set, else offline",
        )
    )
    from assistant.chat.registry import context_window_info

    tokens, source = context_window_info(settings)
    rows.append(
        SettingRow(
            name="context window",
            value=str(tokens),
            source=source,
            description="tokens the model reads: RA_CONTEXT_WINDOW, else what the server "
            "reports, else the model table, else a conservative default",
        )
    )
    return rows
