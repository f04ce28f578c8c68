"""Orchestration: chat models, prompts, grounded answers, history, CLI and TUI."""
