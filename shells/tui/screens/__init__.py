"""Screens of the chat UI (modal pages over the chat)."""
