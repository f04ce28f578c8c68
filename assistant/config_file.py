"""The TOML settings file: where it is, reading it, and its errors as one line."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError


class ConfigError(AssistantError):
    """A setting or the settings file is invalid; the message names the setting and source."""

    kind = "config"


@dataclass(frozen=True)
class ConfigFile:
    """The settings file and its values (empty when there is no file)."""

    path: Path
    exists: bool
    data: dict[str, Any] = field(default_factory=dict)


def config_path() -> tuple[Path, bool]:
    """The TOML settings file and whether the user named it (`RA_CONFIG`).

    Default: `<user config dir>/research-assistant/config.toml`.
    """
    explicit = os.environ.get("RA_CONFIG")
    if explicit:
        return Path(explicit).expanduser(), True
    import platformdirs

    return Path(platformdirs.user_config_dir("research-assistant")) / "config.toml", False


def read_config_file() -> ConfigFile:
    """The settings file's values; `ConfigError` if a named file is missing or any is bad."""
    path, named = config_path()
    if not path.exists():
        if named:
            raise ConfigError(
                f"RA_CONFIG names {path}, which does not exist",
                hint="create the file, or unset RA_CONFIG (RA_CONFIG=/dev/null for none)",
            )
        return ConfigFile(path=path, exists=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the settings file {path}: {reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", hint='write keys as RA_MODEL = "gpt-4o-mini"'
        ) from None
    return ConfigFile(path=path, exists=True, data=data)
