"""The embedding backends `RA_EMBEDDING` can name: one `REGISTRY` entry each.

An entry has the model id recorded in a collection's metadata (so an index refuses to open
with another model) and a builder of Chroma's `EmbeddingFunction`. Adding a backend is one
entry here (and its name in `retrieval.config.EmbeddingName`, which a test checks).

- `minilm`: the offline numpy all-MiniLM-L6-v2 (`retrieval.minilm`), Chroma's interface.
- `chroma-default`: Chroma's DefaultEmbeddingFunction (downloads its ONNX model on first use).
- `openai`: Chroma's OpenAIEmbeddingFunction with `openai_embedding_model`, the key from
  OPENAI_API_KEY (and OPENAI_BASE_URL if set).

The Chroma-provided functions are subclassed so that their expected failures (no key, no
network, a failed download) raise `EmbeddingModelError`, never a foreign traceback.
Importing this module is cheap: chromadb is imported when a function is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from retrieval.errors import EmbeddingModelError
from retrieval.minilm import MiniLMEmbedder, get_embedder
from retrieval.minilm_model import DIMENSION, MAX_SEQ_LENGTH, MODEL_NAME

if TYPE_CHECKING:
    from chromadb.api.types import Embeddable, EmbeddingFunction

    from retrieval.config import RetrievalConfig

    AnyEF = EmbeddingFunction[Embeddable]

__all__ = ["CHROMA_EF_NAME", "REGISTRY", "EmbeddingBackend", "backend", "minilm_ef_class"]

CHROMA_EF_NAME = "ra-minilm-numpy"
OFFLINE_HINT = "or use RA_EMBEDDING=minilm (offline, the default)"


@dataclass(frozen=True)
class EmbeddingBackend:
    """One embedding backend: its `RA_EMBEDDING` name, model id and function builder."""

    name: str
    description: str
    model_id: Callable[[RetrievalConfig], str]
    build: Callable[[RetrievalConfig], AnyEF]


# --- minilm: the numpy encoder behind Chroma's interface ---------------------------------

_EF_CLASS: type[Any] | None = None


def minilm_ef_class() -> type[Any]:
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

    MiniLMEmbeddingFunction.__module__ = "retrieval.embeddings"
    MiniLMEmbeddingFunction.__qualname__ = "MiniLMEmbeddingFunction"
    register_embedding_function(MiniLMEmbeddingFunction)
    _EF_CLASS = MiniLMEmbeddingFunction
    return _EF_CLASS


def _build_minilm(config: RetrievalConfig) -> AnyEF:
    return cast("AnyEF", minilm_ef_class()())


# --- Chroma's own functions, with their failures mapped to EmbeddingModelError --------------

_SECRET = re.compile(r"\b(sk|key)-[A-Za-z0-9_*\-]{6,}")


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message, any key-like token masked."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return _SECRET.sub("[key]", text)[:200]


def _guarded(
    base: type[Any], label: str, hint: str, errors: tuple[type[BaseException], ...]
) -> Any:
    """A subclass of Chroma's `base` whose calls raise EmbeddingModelError on `errors`."""

    class Guarded(base):
        def __call__(self, input: Any) -> Any:
            try:
                return super().__call__(input)
            except errors as exc:
                raise EmbeddingModelError(f"{label} failed: {_one_line(exc)}", hint) from exc

    Guarded.__name__ = Guarded.__qualname__ = base.__name__
    return Guarded


def _build_chroma_default(config: RetrievalConfig) -> AnyEF:
    import httpx
    from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

    cls = _guarded(
        DefaultEmbeddingFunction,
        "Chroma's default embedding model (RA_EMBEDDING=chroma-default)",
        f"it downloads its ONNX model on first use: check the network, {OFFLINE_HINT}",
        (httpx.HTTPError, OSError, ValueError),
    )
    return cast("AnyEF", cls())


def _build_openai(config: RetrievalConfig) -> AnyEF:
    if not os.environ.get("OPENAI_API_KEY", "").strip():
        raise EmbeddingModelError(
            "RA_EMBEDDING=openai needs an API key: OPENAI_API_KEY is not set",
            f"export OPENAI_API_KEY (and OPENAI_BASE_URL for another endpoint), {OFFLINE_HINT}",
            kind="config",
        )
    try:
        import openai
        from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction
    except ImportError as exc:
        raise EmbeddingModelError(
            f"RA_EMBEDDING=openai needs the openai package: {exc}",
            f"pip install openai, {OFFLINE_HINT}",
            kind="config",
        ) from exc
    cls = _guarded(
        OpenAIEmbeddingFunction,
        f"OpenAI embeddings ({config.openai_embedding_model})",
        f"check OPENAI_API_KEY, OPENAI_BASE_URL and the network, {OFFLINE_HINT}",
        (openai.OpenAIError, OSError),
    )
    try:
        ef = cls(model_name=config.openai_embedding_model, api_key_env_var="OPENAI_API_KEY")
    except ValueError as exc:
        raise EmbeddingModelError(
            f"cannot use OpenAI embeddings (RA_EMBEDDING=openai): {_one_line(exc)}",
            OFFLINE_HINT,
            kind="config",
        ) from exc
    return cast("AnyEF", ef)


REGISTRY: dict[str, EmbeddingBackend] = {
    b.name: b
    for b in (
        EmbeddingBackend(
            name="minilm",
            description=f"{MODEL_NAME} run with numpy, offline (the default)",
            model_id=lambda config: f"minilm:{MODEL_NAME}",
            build=_build_minilm,
        ),
        EmbeddingBackend(
            name="chroma-default",
            description="Chroma's DefaultEmbeddingFunction (ONNX MiniLM, downloaded on first use)",
            model_id=lambda config: f"chroma-default:{MODEL_NAME}-onnx",
            build=_build_chroma_default,
        ),
        EmbeddingBackend(
            name="openai",
            description="OpenAI embeddings over HTTP (key from OPENAI_API_KEY)",
            model_id=lambda config: f"openai:{config.openai_embedding_model}",
            build=_build_openai,
        ),
    )
}


def backend(name: str) -> EmbeddingBackend:
    """The registry entry for `name`; EmbeddingModelError (kind "config") when unknown."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise EmbeddingModelError(
            f"unknown embedding backend {name!r} (RA_EMBEDDING)",
            f"choose one of: {', '.join(REGISTRY)}",
            kind="config",
        ) from None
