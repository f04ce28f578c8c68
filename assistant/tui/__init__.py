"""The Textual chat UI behind `ra chat` (import `assistant.tui.app` to run it)."""
