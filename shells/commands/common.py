"""Helpers shared by the command modules: settings from flags, JSON output, errors."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel

from assistant.config import Settings, load_settings


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings with the global flags (`--home`, `--model`) applied over env and file."""
    return load_settings(
        home=getattr(args, "home", None), model=getattr(args, "model", None), **extra
    )


def print_json(data: Any) -> None:
    """One JSON document on stdout."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def fail(message: str, code: int = 1) -> int:
    """Print `ra: error: message` on stderr and return the exit code."""
    print(f"ra: error: {message}", file=sys.stderr)
    return code
