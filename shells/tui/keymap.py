"""The one table of the chat UI's commands: key bindings, slash commands, palette entries.

Each `Command` names an app action (`action_<name>` on the app). It may have a key (shown
in the footer with `label`), a slash form (`/name arg`) and a palette title. The bindings,
the slash parser and completion, the palette and the help page are all built from
`COMMANDS`, so adding a command is one entry here plus its `action_` method.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Command:
    """One thing the user can do, and every way to reach it."""

    name: str  # the app's `action_<name>`; also the slash command's name
    help: str
    key: str = ""  # Textual key spec, e.g. "ctrl+n"
    label: str = ""  # footer label ("" hides it from the footer)
    slash: bool = False  # reachable as `/name`
    arg: str = ""  # "" (no argument), "<x>" (required) or "[x]" (optional)
    palette: str = ""  # title in the command palette ("" = not listed)
    priority: bool = False

    @property
    def usage(self) -> str:
        """`/name <arg>` as shown in help."""
        return f"/{self.name} {self.arg}".rstrip()

    @property
    def arg_required(self) -> bool:
        """True when the slash command needs an argument."""
        return self.arg.startswith("<")


COMMANDS: tuple[Command, ...] = (
    Command("summarize", "summarize a paper (id, arXiv id or title fragment)", slash=True,
            arg="<paper>"),
    Command("topic", "a cited overview of what the papers say about a topic", slash=True,
            arg="<topic>"),
    Command("papers", "list papers; filter by words, a year (2021, 2020-2022) or by:author",
            slash=True, arg="[filter]", palette="List the papers"),
    Command("search", "search the papers without asking the model", slash=True,
            arg="<query>"),
    Command("new", "start a new conversation", key="ctrl+n", label="New", slash=True,
            palette="New chat"),
    Command("history", "past conversations: resume, rename, filter, delete", key="ctrl+r",
            label="History", slash=True, palette="History"),
    Command("export", "write this conversation to a Markdown file", slash=True, arg="[path]",
            palette="Export conversation"),
    Command("model", "list the models, or switch to one", slash=True, arg="[name]",
            palette="Switch model"),
    Command("reload", "reload the index (after `ra ingest` elsewhere)", slash=True,
            palette="Reload the index"),
    Command("help", "show commands and keys", key="f1", slash=True, palette="Help"),
    Command("toggle_sources", "show or hide the sources panel", key="ctrl+b", label="Sources",
            palette="Toggle sources"),
    # priority: the input box would take ctrl+y as "redo". Not in the footer, which must fit
    # 60 columns with "esc Stop" (help and palette list it).
    Command("copy_answer", "copy the last answer with its references", key="ctrl+y",
            palette="Copy last answer", priority=True),
    Command("focus_input", "move the cursor to the input box", key="ctrl+l",
            palette="Focus input"),
    Command("cancel", "stop the answer being written (it is kept, marked incomplete)",
            key="escape", label="Stop", palette="Stop answer"),
    Command("quit", "quit (the conversation is saved after every turn)", key="ctrl+q",
            label="Quit", priority=True),
)  # fmt: skip

NARROW = 90  # columns: below, the sources panel is an overlay (ctrl+b) and words are fewer
SLASH: dict[str, Command] = {c.name: c for c in COMMANDS if c.slash}
INPUT_KEYS = (
    ("Enter", "send the question or command"),
    ("ctrl+j (or shift+enter / alt+enter)", "a new line in the question"),
    ("↑ / ↓ at the first / last line", "earlier questions (kept between sessions)"),
    ("Tab or →", "accept the completion shown in grey"),
    ("ctrl+p", 'command palette (every action, and "Summarize" for any paper)'),
)


def bindings() -> list[Binding]:
    """The app's key bindings, from the table."""
    return [
        Binding(c.key, c.name, c.label, show=bool(c.label), priority=c.priority)
        for c in COMMANDS
        if c.key
    ]


def _key_name(key: str) -> str:
    return key.replace("escape", "Escape").replace("f1", "F1")


def help_markdown() -> str:
    """Commands and keys as Markdown (the help page)."""
    slash = [f"- `{c.usage}`: {c.help}" for c in COMMANDS if c.slash]
    keys = [f"- `{key}`: {what}" for key, what in INPUT_KEYS]
    keys += [f"- `{_key_name(c.key)}`: {c.help}" for c in COMMANDS if c.key]
    return "## Commands\n\n" + "\n".join(slash) + "\n\n## Keys\n\n" + "\n".join(keys) + "\n"
