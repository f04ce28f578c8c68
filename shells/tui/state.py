"""What the chat UI remembers between sessions, per RA_HOME: the questions typed (recalled
with Up/Down) and the theme picked in the palette.

One small JSON file, `<home>/tui-state.json`, written atomically; a damaged or missing file
is an empty state, never an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

MAX_INPUTS = 200


class UIState(BaseModel):
    """The persisted part of the UI."""

    theme: str | None = None
    inputs: list[str] = Field(default_factory=list)


class StateFile:
    """Load and save `UIState` at `<home>/tui-state.json`."""

    def __init__(self, home: Path) -> None:
        self.path = home / "tui-state.json"
        self.state = self._load()

    def _load(self) -> UIState:
        try:
            return UIState.model_validate_json(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, ValidationError):
            return UIState()

    def save(self) -> None:
        """Write the state (failures are ignored: remembering is a convenience)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.state.model_dump(), indent=1), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            pass

    def remember_input(self, text: str) -> None:
        """Add a sent question or command (the latest last, no immediate repeats)."""
        inputs = self.state.inputs
        if inputs and inputs[-1] == text:
            return
        inputs.append(text)
        del inputs[:-MAX_INPUTS]
        self.save()

    def remember_theme(self, theme: str) -> None:
        """Keep the theme for the next start."""
        if self.state.theme != theme:
            self.state.theme = theme
            self.save()
