"""Slash commands: parsing and completion (the commands themselves are in `keymap`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shells.tui.keymap import SLASH


@dataclass(frozen=True)
class SlashCommand:
    """A parsed slash command: its name and its (stripped) argument."""

    name: str
    arg: str = ""


class SlashError(ValueError):
    """A line that starts with `/` but is not a valid command."""


def is_command(text: str) -> bool:
    """True when the input line is meant as a slash command."""
    return text.lstrip().startswith("/")


def parse(text: str) -> SlashCommand:
    """Parse `/name arg...`; raise `SlashError` with a helpful message when it is wrong."""
    line = text.strip()
    if not line.startswith("/"):
        raise SlashError("commands start with /")
    head, _, rest = line[1:].partition(" ")
    name = head.lower()
    spec = SLASH.get(name)
    if spec is None:
        matches = [s for s in SLASH if s.startswith(name)] if name else []
        if len(matches) == 1:
            spec = SLASH[matches[0]]
        else:
            known = ", ".join(f"/{s}" for s in SLASH)
            raise SlashError(f"unknown command /{head}; try {known}")
    arg = rest.strip()
    if spec.name == "summarize" and arg.split(" ", 1)[0] == "--topic":
        spec, arg = SLASH["topic"], arg[len("--topic") :].strip()
    if spec.arg_required and not arg:
        raise SlashError(f"usage: {spec.usage}")
    if not spec.arg and arg:
        raise SlashError(f"/{spec.name} takes no argument")
    return SlashCommand(spec.name, arg)


@dataclass
class CompletionSource:
    """What completion draws on: paper titles/ids and model names."""

    papers: Sequence[str] = ()
    models: Sequence[str] = ()


def _complete_from(value: str, fragment: str, options: Iterable[str]) -> str | None:
    """`value` + the rest of the first option that starts with `fragment` (case-insensitive)."""
    folded = fragment.casefold()
    for option in options:
        if option.casefold().startswith(folded) and len(option) > len(fragment):
            return value + option[len(fragment) :]
    return None


def complete(value: str, source: CompletionSource | None = None) -> str | None:
    """The completed input line for `value`, or None when there is nothing to add.

    `/su` completes to `/summarize `; `/summarize wild` to a paper title starting with
    "wild"; `/model off` to a model name. The typed text is kept as typed.
    """
    if not value.startswith("/"):
        return None
    source = source or CompletionSource()
    head, space, rest = value[1:].partition(" ")
    if not space:
        names = [spec.name + (" " if spec.arg else "") for spec in SLASH.values()]
        return _complete_from(value, head, names)
    if not rest:
        return None
    name = head.lower()
    if name == "summarize":
        return _complete_from(value, rest, source.papers)
    if name == "model":
        return _complete_from(value, rest, source.models)
    return None
