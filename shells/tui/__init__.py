"""The Textual chat UI behind `ra chat` (import `shells.tui.app` to run it)."""
