"""Token-aware chunking of abstracts: sentence-packed windows with overlap, title-prefixed."""

from __future__ import annotations

import re

from retrieval.models import Chunk, Paper
from retrieval.tokens import count_tokens, encoding

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences (a light rule that keeps "e.g." and "(i)" together)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    merged: list[str] = []
    for part in parts:
        if not part:
            continue
        # "e.g. Foo" and "et al. 2021" are not sentence ends.
        if merged and re.search(r"\b(e\.g|i\.e|et al|vs|cf|Fig|Eq)\.$", merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def _hard_split(sentence: str, max_tokens: int) -> list[str]:
    enc = encoding()
    ids = enc.encode(sentence, disallowed_special=())
    return [enc.decode(ids[i : i + max_tokens]) for i in range(0, len(ids), max_tokens)]


def chunk_paper(paper: Paper, chunk_tokens: int = 180, overlap: int = 40) -> list[Chunk]:
    """Cut a paper's abstract into chunks of at most `chunk_tokens` tokens (title included).

    Sentences are packed whole; each chunk after the first repeats trailing sentences of
    the previous one, up to `overlap` tokens, so a fact on a boundary is kept whole.
    """
    header = f"{paper.title}\n"
    budget = max(16, chunk_tokens - count_tokens(header))
    sentences: list[tuple[str, int]] = []
    for sentence in split_sentences(paper.abstract) or [paper.abstract]:
        n = count_tokens(sentence)
        if n > budget:
            sentences.extend(
                (piece, count_tokens(piece)) for piece in _hard_split(sentence, budget)
            )
        else:
            sentences.append((sentence, n))

    windows: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    size = 0
    for sentence, n in sentences:
        if current and size + n > budget:
            windows.append(current)
            carried: list[tuple[str, int]] = []
            carried_size = 0
            for prev in reversed(current):
                if carried_size + prev[1] > overlap or carried_size + prev[1] + n > budget:
                    break
                carried.insert(0, prev)
                carried_size += prev[1]
            current, size = carried, carried_size
        current.append((sentence, n))
        size += n
    if current or not windows:
        windows.append(current)

    chunks = []
    for i, window in enumerate(windows):
        body = " ".join(s for s, _ in window)
        text = header + body
        chunks.append(
            Chunk(
                chunk_id=f"{paper.paper_id}::{i}",
                paper_id=paper.paper_id,
                index=i,
                text=text,
                n_tokens=count_tokens(text),
            )
        )
    return chunks
