"""The query encoder of long-lived processes: all-MiniLM-L6-v2 for one sequence on ONNX Runtime.

Same model and weights as `retrieval.minilm_model` (the graph is built from its converted
arrays), same float32 arithmetic in another order: vectors agree to about 2e-7 per component.
What ONNX Runtime adds is weights packed once for its matrix kernels: with one query's ~20
tokens, numpy's BLAS repacks every 384 x 1536 weight matrix at each product and a query vector
takes 15-22 ms; here it takes 8-11 ms (`benchmarks/embedding_speed.py`).

Building a session costs 0.3-0.6 s and ~100 MB of private memory (the weights stay numpy's
memory-mapped arrays; the session adds its packed copies), and importing onnxruntime ~0.1 s,
so one-shot commands never do it: a process that serves many queries calls `prepare` (the
chat does, for large libraries). Without onnxruntime, or if it cannot build the session, queries
stay on numpy.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.minilm_model import Model
from retrieval.onnx_proto import FLOAT, INT64, Graph, model_bytes

if TYPE_CHECKING:
    import numpy as np

__all__ = ["QueryEncoder", "build_graph", "encode_query", "prepare", "prepared"]

log = logging.getLogger(__name__)

OPSET = 20  # Gelu (exact erf) is an operator from opset 20
_LAYER_NORM_EPS = 1e-12

_ENCODERS: dict[Path, QueryEncoder | None] = {}
_LOCK = threading.Lock()


def build_graph(model: Model) -> tuple[bytes, dict[str, np.ndarray]]:
    """The serialized ONNX model, token ids (int64, [n]) -> unit vector (float32, [1, 384]),
    and its weights by name: they stay out of the bytes (declared external), the session is
    handed the arrays."""
    import numpy as np

    hidden = model.ln_g.shape[0]
    head_dim = hidden // model.heads
    g = Graph("all-MiniLM-L6-v2")

    def i64(name: str, value: int | list[int]) -> str:
        return g.constant(name, np.asarray(value, dtype=np.int64))

    def linear(x: str, w: str, b: str) -> str:
        return g.node("Add", [g.node("MatMul", [x, w]), b])

    def norm(x: str, gamma: str, beta: str) -> str:
        return g.node("LayerNormalization", [x, gamma, beta], epsilon=_LAYER_NORM_EPS, axis=-1)

    ids = g.input("ids", INT64, ["n"])
    zero, one, two, axis0 = i64("zero", 0), i64("one", 1), i64("two", 2), i64("axis0", [0])
    split_heads = i64("split_heads", [-1, 3, model.heads, head_dim])
    merge_heads = i64("merge_heads", [-1, hidden])
    for name in ("word", "position", "ln_g", "ln_b"):
        g.constant(name, np.asarray(getattr(model, name)), external=True)
    token_type = np.asarray(model.token_type[0])  # single sentences: type 0
    g.constant("token_type", token_type, external=True)

    n = g.node("Squeeze", [g.node("Shape", [ids]), axis0])
    positions = g.node("Range", [zero, n, one])
    x = g.node("Add", [g.node("Gather", ["word", ids]), g.node("Gather", ["position", positions])])
    x = norm(g.node("Add", [x, "token_type"]), "ln_g", "ln_b")
    for i, layer in enumerate(model.layers):
        w = {
            f: g.constant(f"{i}.{f}", np.asarray(getattr(layer, f)), external=True)
            for f in layer._fields
        }
        # (n, 1152) -> (3, heads, n, head_dim); the query weights are pre-scaled
        qkv = g.node("Reshape", [linear(x, w["w_qkv"], w["b_qkv"]), split_heads])
        qkv = g.node("Transpose", [qkv], perm=[1, 2, 0, 3])
        q, k, v = (g.node("Gather", [qkv, idx], axis=0) for idx in (zero, one, two))
        scores = g.node("MatMul", [q, g.node("Transpose", [k], perm=[0, 2, 1])])
        ctx = g.node("MatMul", [g.node("Softmax", [scores], axis=-1), v])
        ctx = g.node("Reshape", [g.node("Transpose", [ctx], perm=[1, 0, 2]), merge_heads])
        x = norm(g.node("Add", [linear(ctx, w["w_out"], w["b_out"]), x]), w["ln1_g"], w["ln1_b"])
        up = g.node("Gelu", [linear(x, w["w_up"], w["b_up"])])
        x = norm(g.node("Add", [linear(up, w["w_down"], w["b_down"]), x]), w["ln2_g"], w["ln2_b"])
    pooled = g.node("ReduceMean", [x, axis0], keepdims=1)
    g.node("LpNormalization", [pooled], "vector", p=2, axis=-1)
    g.output("vector", FLOAT, [1, hidden])
    return model_bytes(g, OPSET), g.external


class QueryEncoder:
    """One ONNX Runtime session of the encoder, on the calling thread (no thread pool of its
    own: the search runs other work on the second core)."""

    def __init__(self, model: Model) -> None:
        import numpy as np
        import onnxruntime as ort

        ort.set_default_logger_severity(3)  # errors only: the chat owns the terminal
        graph, weights = build_graph(model)
        # The session reads the weights from these arrays (no copy into the model bytes);
        # they must outlive it.
        self._weights = [
            ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(a)) for a in weights.values()
        ]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_external_initializers(list(weights), self._weights)
        self._tokenizer = model.tokenizer
        self._session: Any = ort.InferenceSession(
            graph, options, providers=["CPUExecutionProvider"]
        )

    def encode(self, text: str) -> np.ndarray:
        """The unit vector of `text` (float32, 384), truncated to the model's 256 tokens."""
        import numpy as np

        ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
        out = self._session.run(["vector"], {"ids": ids})[0]
        return np.asarray(out[0], dtype=np.float32)


def prepare(model_dir: Path, model: Model) -> bool:
    """Build the session for this model once per process; False (and numpy stays) when
    onnxruntime is missing or refuses the graph."""
    with _LOCK:
        if model_dir not in _ENCODERS:
            try:
                _ENCODERS[model_dir] = QueryEncoder(model)
            except Exception as exc:  # an optional speed-up: never fail a search over it
                log.warning("fast query encoder unavailable, using numpy: %s", exc)
                _ENCODERS[model_dir] = None
        return _ENCODERS[model_dir] is not None


def prepared(model_dir: Path) -> QueryEncoder | None:
    """The session `prepare` built for this model, if any."""
    return _ENCODERS.get(model_dir)


def encode_query(model_dir: Path, text: str) -> np.ndarray | None:
    """`text`'s vector from the prepared session; None when there is none, or when it fails
    (then numpy serves this process's queries from now on, after one warning)."""
    encoder = _ENCODERS.get(model_dir)
    if encoder is None:
        return None
    try:
        return encoder.encode(text)
    except Exception as exc:  # an optional speed-up: the numpy encoder gives the same vector
        with _LOCK:
            if _ENCODERS.get(model_dir) is encoder:
                _ENCODERS[model_dir] = None
                log.warning("fast query encoder failed, using numpy: %s", exc)
        return None
