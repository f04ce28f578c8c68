"""Secrets out of everything printed or saved: one masking function, and a streaming masker.

The configured API key can come back in a model's reply (a prompt-injected source, a
server echoing the request). `mask` replaces it in finished text; `StreamMasker` does the
same for text that arrives in pieces, holding back the tail that could be the start of a
key split across two deltas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel

MASK = "***"
# Shorter "secrets" would mask ordinary words; real API keys are far longer.
MIN_SECRET_LENGTH = 8

M = TypeVar("M", bound=BaseModel)


def clean_secrets(secrets: Iterable[str | None]) -> list[str]:
    """The secrets worth masking, longest first (so a key containing another wins)."""
    kept = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
    return sorted(kept, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_model(model: M, secrets: Iterable[str]) -> M:
    """A copy of a pydantic model with every string inside it masked."""
    keys = list(secrets)
    if not keys:
        return model

    def walk(value: object) -> object:
        if isinstance(value, str):
            return mask(value, keys)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return type(model).model_validate(walk(model.model_dump()))


class StreamMasker:
    """Mask secrets in text that arrives in pieces.

    `feed(piece)` returns the text that is safe to show now; the held-back tail (the
    longest suffix that could still grow into a secret) comes out of a later `feed` or
    of `flush()` at the end of the stream.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = clean_secrets(secrets)
        self._pending = ""

    def feed(self, piece: str) -> str:
        if not self._secrets:
            return piece
        text = mask(self._pending + piece, self._secrets)
        hold = self._held_back(text)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    @property
    def pending(self) -> str:
        """Text held back, not yet shown."""
        return self._pending

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return text

    def _held_back(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of a secret."""
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if secret.startswith(text[-size:]):
                    longest = size
                    break
        return longest
