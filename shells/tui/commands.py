"""Slash commands that run in a worker thread without the model: each takes the app.

They block on `app.wait_ready()` until the index is open, call the Assistant, and hand
results back to the UI thread with `app.call_ui`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AssistantError
from shells.tui import actions

if TYPE_CHECKING:
    from shells.tui.app import ResearchApp


def papers(app: ResearchApp, needle: str) -> None:
    """`/papers [filter]`: the indexed papers as a notice."""
    assistant = app.wait_ready()
    if assistant is None:
        return
    app.call_ui(app.chat.add_notice, *actions.papers_notice(assistant.papers(), needle))


def search(app: ResearchApp, query: str) -> None:
    """`/search <query>`: search hits as a notice."""
    assistant = app.wait_ready()
    if assistant is None:
        return
    try:
        hits = assistant.search(query, k=8)
    except AssistantError as error:
        app.call_ui(app.notify_error, error)
        return
    app.call_ui(app.chat.add_notice, *actions.search_notice(query, hits))


def export(app: ResearchApp, path: str) -> None:
    """`/export [path]`: the conversation as Markdown."""
    assistant = app.wait_ready()
    conversation_id = app.conversation_id
    if assistant is None:
        return
    if not conversation_id:
        app.call_ui(app.notify, "Nothing to export yet: ask a question first.")
        return
    target = Path(path).expanduser() if path else actions.default_export_path(conversation_id)
    try:
        text = assistant.export_markdown(conversation_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except AssistantError as error:
        app.call_ui(app.notify_error, error)
    except OSError as error:
        app.call_ui(app.notify, f"Could not write {target}: {error}", severity="error")
    else:
        app.call_ui(app.notify, f"Exported to {target}", title="Export")


def switch_model(app: ResearchApp, name: str) -> None:
    """`/model <name>`."""
    assistant = app.wait_ready()
    if assistant is None:
        return
    try:
        assistant.set_model(name)
    except AssistantError as error:
        app.call_ui(app.notify_error, error, title="Model")
        app.call_ui(app.restore_input, f"/model {name}")
        return
    app.call_ui(app.status.set_model, assistant.model_name)
    app.call_ui(app.notify, f"Now using {assistant.model_name}", title="Model")


def resume(app: ResearchApp, conversation_id: str) -> None:
    """Load a saved conversation and show it."""
    assistant = app.wait_ready()
    if assistant is None:
        return
    try:
        conversation = assistant.conversation(conversation_id)
    except AssistantError as error:
        app.call_ui(app.notify_error, error)
        return
    app.call_ui(app.load_conversation, conversation)
