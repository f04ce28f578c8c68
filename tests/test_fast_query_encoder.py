"""The ONNX Runtime query encoder of long-lived processes (`retrieval.minilm_onnx`): real
onnxruntime on a graph written by `retrieval.onnx_proto`, checked against the numpy encoder,
sentence-transformers' reference vectors and the seed index's search results."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

import retrieval.minilm_onnx as minilm_onnx
from retrieval.minilm import get_embedder
from retrieval.onnx_proto import FLOAT, INT64, Graph, model_bytes

REPO = Path(__file__).resolve().parent.parent
REFERENCE = json.loads((REPO / "tests" / "data" / "minilm_reference.json").read_text("utf-8"))


@pytest.fixture()
def fresh_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """No session from another test, and none left behind (other tests expect numpy)."""
    monkeypatch.setattr(minilm_onnx, "_ENCODERS", {})


@pytest.fixture()
def encoder(fresh_encoders: None) -> minilm_onnx.QueryEncoder:
    embedder = get_embedder()
    assert embedder.prepare_queries()
    found = minilm_onnx.prepared(embedder.model_dir)
    assert found is not None
    return found


def test_writer_round_trips_through_onnxruntime() -> None:
    """Every field kind the writer emits (int64 and float32 tensors, int, negative int, float
    and int-list attributes, a symbolic dimension) read back by onnxruntime."""
    import onnxruntime as ort

    rng = np.random.default_rng(7)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    g = Graph("tiny")
    x = g.input("x", FLOAT, ["n", 5])
    y = g.node("MatMul", [x, g.constant("w", w)])
    y = g.node("Transpose", [y], perm=[1, 0])
    y = g.node("Softmax", [y], axis=-1)
    gamma = g.constant("gamma", np.ones(4, np.float32))
    y = g.node("LayerNormalization", [y, gamma], epsilon=0.5, axis=-1)
    rows = g.node("Gather", [y, g.input("pick", INT64, [2])], axis=0)
    g.node("Reshape", [rows, g.constant("shape", np.asarray([2, -1], np.int64))], "out")
    g.output("out", FLOAT, [2, "n"])
    session = ort.InferenceSession(model_bytes(g, 20), providers=["CPUExecutionProvider"])
    data = rng.standard_normal((4, 5)).astype(np.float32)
    got = session.run(["out"], {"x": data, "pick": np.asarray([2, 0], np.int64)})[0]

    t = (data @ w).T
    e = np.exp(t - t.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    norm = (s - s.mean(-1, keepdims=True)) / np.sqrt(s.var(-1, keepdims=True) + 0.5)
    np.testing.assert_allclose(got, norm[[2, 0]], atol=1e-5)


def test_matches_the_numpy_encoder(encoder: minilm_onnx.QueryEncoder) -> None:
    embedder = get_embedder()
    texts = [s["text"] for s in REFERENCE["sentences"]] + [
        "multi-turn jailbreak",
        "Wie gut erkennen Sprachmodelle Ironie? ünïcödé, 数学 and emoji 🙂",
        "x",
        "",
    ]
    reference = embedder.embed(texts)
    for text, ref in zip(texts, reference, strict=True):
        vector = encoder.encode(text)
        assert vector.dtype == np.float32 and vector.shape == (384,)
        assert np.abs(vector - ref).max() < 2e-6, text[:40]
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_matches_sentence_transformers(encoder: minilm_onnx.QueryEncoder) -> None:
    """Including the texts longer than 256 word pieces (truncated like the model)."""
    for sentence in REFERENCE["sentences"]:
        vector = encoder.encode(sentence["text"])
        assert np.abs(vector - np.asarray(sentence["vector"])).max() < 1e-5


def test_embed_query_uses_numpy_until_prepared(fresh_encoders: None) -> None:
    embedder = get_embedder()
    text = "retrieval augmented generation with citations"
    before = embedder.embed_query(text)
    assert np.array_equal(before, embedder.embed([text])[0])  # numpy, bit for bit
    assert minilm_onnx.prepared(embedder.model_dir) is None
    assert embedder.prepare_queries()
    after = embedder.embed_query(text)
    assert np.array_equal(after, minilm_onnx.prepared(embedder.model_dir).encode(text))  # type: ignore[union-attr]
    assert np.abs(after - before).max() < 2e-6


def test_without_onnxruntime_queries_stay_on_numpy(
    fresh_encoders: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    embedder = get_embedder()
    with caplog.at_level(logging.WARNING, logger="retrieval.minilm_onnx"):
        assert embedder.prepare_queries() is False
        assert embedder.prepare_queries() is False  # decided once, not retried per query
    assert sum("fast query encoder unavailable" in r.message for r in caplog.records) == 1
    text = "graph neural networks"
    assert np.array_equal(embedder.embed_query(text), embedder.embed([text])[0])


def test_warm_up_prepares_only_large_libraries(
    seed_index: object, fresh_encoders: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.search as search

    model_dir = get_embedder().model_dir
    seed_index.warm_up()  # type: ignore[attr-defined]
    assert minilm_onnx.prepared(model_dir) is None  # 51 papers: numpy
    monkeypatch.setattr(search, "FAST_QUERIES_MIN", 1)
    seed_index.warm_up()  # type: ignore[attr-defined]
    assert minilm_onnx.prepared(model_dir) is not None


@pytest.mark.parametrize("side_by_side", [False, True], ids=["one thread", "two threads"])
def test_search_results_are_the_same_with_either_encoder(
    seed_index: object, fresh_encoders: None, monkeypatch: pytest.MonkeyPatch, side_by_side: bool
) -> None:
    """The 81 paraphrased questions of the retrieval benchmark: the same papers in the same
    order, dense and hybrid, whichever encoder made the query vector; "two threads" is the
    large-library path (the vector computed on the search's worker thread beside BM25)."""
    import retrieval.search as search

    if side_by_side:
        monkeypatch.setattr(search, "PARALLEL_MIN", 1)
    path = REPO / "evals" / "datasets" / "retrieval_paraphrases.jsonl"
    queries = [json.loads(line)["query"] for line in path.read_text("utf-8").splitlines()]
    assert len(queries) >= 50

    def ranked(mode: str) -> list[list[str]]:
        return [
            [h.paper_id for h in seed_index.search(q, 10, mode=mode)]  # type: ignore[attr-defined]
            for q in queries
        ]

    numpy_runs = {mode: ranked(mode) for mode in ("dense", "hybrid")}
    assert get_embedder().prepare_queries()
    calls: list[str] = []
    encode = minilm_onnx.QueryEncoder.encode

    def counted(self: minilm_onnx.QueryEncoder, text: str) -> np.ndarray:
        calls.append(text)
        return encode(self, text)

    monkeypatch.setattr(minilm_onnx.QueryEncoder, "encode", counted)
    for mode, expected in numpy_runs.items():
        assert ranked(mode) == expected, mode
    assert len(calls) == 2 * len(queries)  # every query vector came from ONNX Runtime


def test_threads_encoding_at_once_get_their_own_vectors(
    encoder: minilm_onnx.QueryEncoder,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"question {i} about {topic}" for i, topic in enumerate(["agents", "rlhf"] * 12)]
    serial = [encoder.encode(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(encoder.encode, texts))
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a, b)


def test_a_graph_onnxruntime_refuses_leaves_numpy(
    fresh_encoders: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(minilm_onnx, "build_graph", lambda model: (b"not a model", {}))
    embedder = get_embedder()
    with caplog.at_level(logging.WARNING, logger="retrieval.minilm_onnx"):
        assert embedder.prepare_queries() is False
    assert any("fast query encoder unavailable" in r.message for r in caplog.records)
    text = "multi-turn jailbreak"
    assert np.array_equal(embedder.embed_query(text), embedder.embed([text])[0])


def test_a_failing_session_falls_back_to_numpy_for_good(
    encoder: minilm_onnx.QueryEncoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(text: str) -> np.ndarray:
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : simulated")

    monkeypatch.setattr(encoder, "encode", broken)
    embedder = get_embedder()
    text = "reward hacking"
    with caplog.at_level(logging.WARNING, logger="retrieval.minilm_onnx"):
        first = embedder.embed_query(text)
        second = embedder.embed_query(text)
    assert np.array_equal(first, embedder.embed([text])[0])
    assert np.array_equal(second, first)
    assert minilm_onnx.prepared(embedder.model_dir) is None
    assert sum("fast query encoder failed" in r.message for r in caplog.records) == 1


def test_session_is_built_once_per_model(fresh_encoders: None) -> None:
    embedder = get_embedder()
    assert embedder.prepare_queries()
    first = minilm_onnx.prepared(embedder.model_dir)
    assert embedder.prepare_queries()
    assert minilm_onnx.prepared(embedder.model_dir) is first
