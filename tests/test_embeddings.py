"""The numpy all-MiniLM-L6-v2 embedder and its Chroma embedding function (real model, offline)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RetrievalConfig
from retrieval.embeddings import (
    DIMENSION,
    EmbeddingModelError,
    MiniLMEmbedder,
    embedding_function,
    embedding_model_id,
    get_embedder,
)
from retrieval.errors import RetrievalError

REPO = Path(__file__).resolve().parent.parent
REFERENCE = json.loads((REPO / "tests" / "data" / "minilm_reference.json").read_text("utf-8"))
REF_TEXTS = [s["text"] for s in REFERENCE["sentences"]]
REF_VECTORS = np.array([s["vector"] for s in REFERENCE["sentences"]], dtype=np.float64)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return get_embedder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_reference_file_covers_truncation() -> None:
    assert REFERENCE["dimension"] == DIMENSION
    assert len(REF_TEXTS) >= 8
    assert max(s["n_tokens_untruncated"] for s in REFERENCE["sentences"]) > 256


@pytest.mark.parametrize("index", range(len(REF_TEXTS)))
def test_matches_sentence_transformers(embedder: MiniLMEmbedder, index: int) -> None:
    vector = embedder.embed([REF_TEXTS[index]])[0]
    assert cosine(vector, REF_VECTORS[index]) >= 0.999
    # in practice it is the same vector up to float32 noise and the file's 6 decimals
    assert np.abs(vector - REF_VECTORS[index]).max() < 1e-5


def test_batch_matches_reference(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(REF_TEXTS)
    cosines = [cosine(v, r) for v, r in zip(vectors, REF_VECTORS, strict=True)]
    assert min(cosines) >= 0.999


def test_shape_dtype_and_unit_norm(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["one", "two sentences here", "", "  "])
    assert vectors.shape == (4, DIMENSION)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, DIMENSION)


def test_rejects_a_bare_string(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def test_batching_does_not_change_a_vector(embedder: MiniLMEmbedder) -> None:
    short = "Self-play reinforcement learning for safer language models."
    long = REF_TEXTS[-1]
    alone = embedder.embed([short])[0]
    mixed = embedder.embed([long, short, "tiny", long + " extra words"])
    assert cosine(alone, mixed[1]) > 0.9999
    # many texts: several batches (batch_size and token budget), order preserved
    small = MiniLMEmbedder(batch_size=3, max_batch_tokens=300)
    many = [f"paper number {i} about topic {i % 7}" for i in range(10)] + [short, long]
    vectors = small.embed(many)
    assert cosine(vectors[-2], alone) > 0.9999
    singles = np.vstack([embedder.embed([t]) for t in many])
    assert min(cosine(a, b) for a, b in zip(vectors, singles, strict=True)) > 0.9999


def test_worker_threads_give_the_same_vectors(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.blas_threads import SINGLE_THREADED_BLAS

    texts = [f"{t} (variant {i})" for i in range(6) for t in REF_TEXTS]
    monkeypatch.setenv("RA_EMBED_THREADS", "1")
    serial = embedder.embed(texts)
    monkeypatch.setenv("RA_EMBED_THREADS", "3")
    before = SINGLE_THREADED_BLAS.threads()
    threaded = embedder.embed(texts)
    assert np.abs(serial - threaded).max() < 1e-5
    if before is not None:  # numpy's OpenBLAS thread count is restored
        assert SINGLE_THREADED_BLAS.threads() == before


def test_a_query_vector_does_not_depend_on_blas_threads(embedder: MiniLMEmbedder) -> None:
    """Queries run on one BLAS thread whatever OpenBLAS is set to (its threads only spin on a
    busy machine for so small a product, and they change the last bits of a vector)."""
    from retrieval.blas_threads import SINGLE_THREADED_BLAS as blas
    from retrieval.minilm_model import encode_packed, load_model

    if not blas.available:
        pytest.skip("numpy does not use its bundled OpenBLAS here")
    query = " ".join(REF_TEXTS)[:400]  # ~70 word pieces: big enough for BLAS to split
    model = load_model(embedder.model_dir)
    ids = [model.tokenizer.encode(query).ids]
    saved = blas.threads()
    try:
        blas._set(1)
        one_thread = encode_packed(model, ids)
        blas._set(2)
        np.testing.assert_array_equal(embedder.embed([query]), one_thread)
    finally:
        blas._set(saved)


def test_reused_buffers_do_not_leak_between_calls(embedder: MiniLMEmbedder) -> None:
    """Each thread keeps its work buffers: a big call, a small one, then the big one again."""
    big = [f"{t} (copy {i})" for i in range(4) for t in REF_TEXTS]
    first = embedder.embed(big)
    small = embedder.embed(["tiny"])
    again = embedder.embed(big)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(small, MiniLMEmbedder().embed(["tiny"]))


def test_truncates_at_256_word_pieces(embedder: MiniLMEmbedder) -> None:
    long = REF_TEXTS[-1]
    assert len(embedder.tokenize([long])[0]) == 256
    longer = long + " and then many more words that come after the cut" * 20
    assert cosine(embedder.embed([long])[0], embedder.embed([longer])[0]) > 0.99999


def test_deterministic(embedder: MiniLMEmbedder) -> None:
    first = embedder.embed(REF_TEXTS)
    second = MiniLMEmbedder().embed(REF_TEXTS)
    assert np.array_equal(first, second)


def test_semantic_similarity(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        [
            "jailbreaking chat models over several conversation turns",
            "multi-turn jailbreak attacks on chat assistants",
            "a recipe for sourdough bread",
        ]
    )
    assert cosine(a, b) > 0.6 > 0.2 > cosine(a, c)


def test_gelu_is_exact_erf_gelu() -> None:
    from retrieval.minilm_model import gelu

    x = np.linspace(-12, 12, 200_001, dtype=np.float32)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    got = gelu(x.copy()).astype(np.float64)
    assert np.abs(got - exact).max() < 2e-6
    assert np.abs((got - exact) / np.maximum(np.abs(x), 1)).max() < 3e-7


def test_module_import_is_cheap() -> None:
    code = (
        "import sys, retrieval.embeddings; "
        "heavy = [m for m in ('numpy', 'chromadb', 'tokenizers', 'safetensors', 'pydantic') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_embedding_model_ids_differ(tmp_path: Path) -> None:
    ids = {
        embedding_model_id(RetrievalConfig(home=tmp_path)),
        embedding_model_id(RetrievalConfig(home=tmp_path, embedding="chroma-default")),
        embedding_model_id(RetrievalConfig(home=tmp_path, embedding="openai")),
        embedding_model_id(
            RetrievalConfig(
                home=tmp_path, embedding="openai", openai_embedding_model="text-embedding-3-large"
            )
        ),
    }
    assert len(ids) == 4
    assert embedding_model_id(RetrievalConfig(home=tmp_path)) == "minilm:all-MiniLM-L6-v2"
    # stable: same config, same id
    assert embedding_model_id(RetrievalConfig(home=tmp_path, embedding="openai")) == (
        "openai:text-embedding-3-small"
    )


def test_factory_selects_chroma_functions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Construction only: neither function is called, so nothing touches the network."""
    from chromadb.utils.embedding_functions import (
        DefaultEmbeddingFunction,
        OpenAIEmbeddingFunction,
    )

    assert isinstance(
        embedding_function(RetrievalConfig(home=tmp_path, embedding="chroma-default")),
        DefaultEmbeddingFunction,
    )
    for var in ("OPENAI_API_KEY", "CHROMA_OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(EmbeddingModelError, match="OPENAI_API_KEY"):
        embedding_function(RetrievalConfig(home=tmp_path, embedding="openai"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    ef = embedding_function(
        RetrievalConfig(
            home=tmp_path, embedding="openai", openai_embedding_model="text-embedding-3-large"
        )
    )
    assert isinstance(ef, OpenAIEmbeddingFunction)
    assert ef.get_config()["model_name"] == "text-embedding-3-large"


def test_registry_names_every_configurable_backend(tmp_path: Path) -> None:
    from typing import get_args

    from retrieval.config import EmbeddingName
    from retrieval.embedding_backends import REGISTRY

    assert set(REGISTRY) == set(get_args(EmbeddingName))
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.description
        config = RetrievalConfig(home=tmp_path, embedding=name)  # type: ignore[arg-type]
        assert embedding_model_id(config).startswith(f"{name}:")


def test_unknown_backend_is_a_config_error(tmp_path: Path) -> None:
    config = RetrievalConfig.model_construct(home=tmp_path, embedding="word2vec")
    for call in (embedding_function, embedding_model_id):
        with pytest.raises(RetrievalError) as caught:
            call(config)
        assert caught.value.kind == "config"
        assert "word2vec" in caught.value.message and "minilm" in (caught.value.hint or "")


def test_openai_without_a_key_is_one_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OPENAI_API_KEY", "CHROMA_OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "  ")
    with pytest.raises(RetrievalError) as caught:
        embedding_function(RetrievalConfig(home=tmp_path, embedding="openai"))
    err = caught.value
    assert isinstance(err, EmbeddingModelError) and err.kind == "config"
    assert "OPENAI_API_KEY" in err.message and "\n" not in err.display()
    assert "RA_EMBEDDING=minilm" in (err.hint or "")


def test_openai_http_failure_is_an_embedding_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real openai client over HTTP to the local test server (it has no /embeddings)."""
    from tests.openai_server import OpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-123456")
    with OpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        ef = embedding_function(RetrievalConfig(home=tmp_path, embedding="openai"))
        with pytest.raises(EmbeddingModelError) as caught:
            ef(["a query"])
        assert any(r.path.endswith("/embeddings") for r in server.requests)
    err = caught.value
    assert err.kind == "embedding"
    assert "text-embedding-3-small" in err.message and "OPENAI_BASE_URL" in (err.hint or "")
    assert "sk-test" not in err.display()


@pytest.mark.slow
def test_chroma_default_offline_is_an_embedding_error(tmp_path: Path) -> None:
    """No model in the cache and no network (a proxy on a closed port): one error, no trace."""
    code = f"""
from pathlib import Path
from retrieval.config import RetrievalConfig
from retrieval.embeddings import embedding_function
from retrieval.errors import RetrievalError
ef = embedding_function(RetrievalConfig(home=Path({str(tmp_path)!r}), embedding="chroma-default"))
try:
    ef(["hello"])
except RetrievalError as exc:
    print(exc.kind, exc.display())
"""
    env = {**os.environ, "HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9"}
    env["HTTP_PROXY"] = env["ALL_PROXY"] = env["HTTPS_PROXY"]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("embedding Chroma's default embedding model"), out.stdout
    assert "RA_EMBEDDING=minilm" in out.stdout


def test_chroma_embedding_function_protocol(tmp_path: Path) -> None:
    ef = embedding_function(RetrievalConfig(home=tmp_path))
    assert not ef.is_legacy()
    assert ef.name() == "ra-minilm-numpy"
    rebuilt = type(ef).build_from_config(ef.get_config())
    vectors = ef(["hello world"])
    assert len(vectors) == 1 and len(vectors[0]) == DIMENSION
    np.testing.assert_array_equal(vectors[0], rebuilt(["hello world"])[0])
    np.testing.assert_array_equal(ef.embed_query(["hello world"])[0], vectors[0])
    from chromadb.utils.embedding_functions import known_embedding_functions

    assert known_embedding_functions["ra-minilm-numpy"] is type(ef)
    from retrieval import embeddings

    assert embeddings.MiniLMEmbeddingFunction is type(ef)


DOCS = {
    "xteam": "X-Teaming: multi-turn jailbreaks and defenses with adaptive multi-agent attackers.",
    "rag": "Retrieval-augmented generation grounds a language model's answers in retrieved "
    "documents from a search index.",
    "bread": "A simple recipe for baking sourdough bread at home with a long cold proof.",
    "moe": "Mixture-of-experts layers route each token to a few expert feed-forward networks.",
    "rlhf": "Reward models trained on human preference comparisons are used to fine-tune "
    "assistants with reinforcement learning.",
}
PARAPHRASES = {
    "xteam": "attacking chatbots over many conversation turns to bypass their safety",
    "rag": "answering questions using documents fetched from a retriever",
    "bread": "how to bake a loaf with natural yeast starter",
    "moe": "sparse expert routing of tokens in transformer feed-forward blocks",
    "rlhf": "learning from human feedback with preference-based reward models",
}


def test_chroma_collection_add_and_query(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    config = RetrievalConfig(home=tmp_path)
    settings = Settings(anonymized_telemetry=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Chroma must not warn about our embedding function
        client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=settings)
        collection = client.get_or_create_collection(
            "papers",
            embedding_function=embedding_function(config),
            metadata={"embedding_model": embedding_model_id(config), "hnsw:space": "cosine"},
        )
        collection.add(ids=list(DOCS), documents=list(DOCS.values()))
        for doc_id, question in PARAPHRASES.items():
            result = collection.query(query_texts=[question], n_results=3)
            assert result["ids"][0][0] == doc_id, (question, result["ids"][0])
        persisted = collection.configuration_json["embedding_function"]
        assert persisted["name"] == "ra-minilm-numpy"
        assert persisted["type"] == "known"

        # reopened (same process, new client object): the persisted function is rebuilt
        again = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=settings)
        reopened = again.get_collection("papers", embedding_function=embedding_function(config))
        assert reopened.query(query_texts=[PARAPHRASES["rag"]], n_results=1)["ids"][0] == ["rag"]


def test_chroma_collection_reopened_in_a_fresh_process(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    config = RetrievalConfig(home=tmp_path)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.create_collection("papers", embedding_function=embedding_function(config))
    collection.add(ids=list(DOCS), documents=list(DOCS.values()))
    code = f"""
import warnings
warnings.simplefilter("error")
from pathlib import Path
import chromadb
from chromadb.config import Settings
from retrieval.config import RetrievalConfig
from retrieval.embeddings import embedding_function
ef = embedding_function(RetrievalConfig(home=Path({str(tmp_path)!r})))
client = chromadb.PersistentClient(path={str(tmp_path / "chroma")!r},
                                   settings=Settings(anonymized_telemetry=False))
col = client.get_collection("papers", embedding_function=ef)
print(col.query(query_texts=[{PARAPHRASES["moe"]!r}], n_results=1)["ids"][0][0])
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "moe"
