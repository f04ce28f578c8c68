"""Make a tiny Llama-architecture GGUF model with random weights (never downloaded).

The vocabulary is SentencePiece-style (`tokenizer.ggml.model = "llama"`): the special
tokens, the 256 byte-fallback tokens, every character of the given text, and its most
frequent words with all their prefixes (llama.cpp's SPM tokenizer builds a word by merging
adjacent pieces, so each prefix must exist); rarer words split into pieces. With the
default 2300 words from the seeds and prompts it needs about 15% more tokens than cl100k
for the same text, like a real Llama tokenizer (issue 11 measured 515 vs 442, +16.5%), so
budgets meet the same trouble as with a real model.

The weights are seeded random numbers: the model babbles words from the vocabulary,
deterministically at temperature 0, and never says end-of-sequence (its output row is
zero), so an answer runs until `max_tokens`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

SPACE = "\u2581"  # SentencePiece's word boundary
# Token types (llama.cpp's llama_token_type).
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6


def vocabulary(texts: Iterable[str], max_words: int = 2300) -> list[tuple[str, float, int]]:
    """(piece, score, type) for <unk>, <s>, </s>, the bytes, characters, words and prefixes."""
    counts: dict[str, int] = {}
    chars: set[str] = set()
    for text in texts:
        chars.update(text)
        for word in re.findall(r"\S+", text):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))[:max_words]
    pieces: dict[str, float] = {}
    for char in sorted(chars - {" ", "\n", "\t", "\r"}):
        pieces.setdefault(char, -1000.0)
    pieces.setdefault(SPACE, -900.0)
    for word in words:
        marked = SPACE + word
        for end in range(2, len(marked) + 1):
            # Longer pieces score higher, so whole words win over their parts.
            pieces[marked[:end]] = max(pieces.get(marked[:end], -1e9), float(end))
    vocab: list[tuple[str, float, int]] = [
        ("<unk>", 0.0, UNKNOWN),
        ("<s>", 0.0, CONTROL),
        ("</s>", 0.0, CONTROL),
    ]
    vocab += [(f"<0x{b:02X}>", 0.0, BYTE) for b in range(256)]
    vocab += [(piece, score, NORMAL) for piece, score in pieces.items()]
    return vocab


def write_tiny_model(
    path: Path,
    texts: Iterable[str],
    *,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_ff: int = 128,
    n_ctx_train: int = 4096,
    seed: int = 0,
    max_words: int = 2300,
) -> Path:
    """Write the model to `path` and return it."""
    import gguf

    vocab = vocabulary(texts, max_words)
    n_vocab = len(vocab)
    rng = np.random.default_rng(seed)

    def weights(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("ra-test-tiny")
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([piece for piece, _, _ in vocab])
    writer.add_token_scores([score for _, score, _ in vocab])
    writer.add_token_types([kind for _, _, kind in vocab])
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    output = weights(n_vocab, n_embd)
    output[:3] = 0.0  # never <unk>, <s> or </s>: the answer runs to max_tokens
    output[3:259] = 0.0  # nor raw bytes (they would make invalid UTF-8)
    writer.add_tensor("token_embd.weight", weights(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", weights(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(n_embd, n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
