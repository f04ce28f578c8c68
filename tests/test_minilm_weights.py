"""The converted MiniLM weight cache (`retrieval.minilm_weights`): written once, memory-mapped
after, byte-identical to converting from model.safetensors, so the vectors do not change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval import minilm_weights
from retrieval.minilm_model import Model, encode_packed, load_model, minilm_model_dir, weight_fields
from retrieval.resources import seed_files

MODEL_DIR = minilm_model_dir()
CONFIG: dict[str, Any] = json.loads((MODEL_DIR / "config.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def converted() -> dict[str, Any]:
    return minilm_weights.convert(MODEL_DIR, CONFIG)


@pytest.fixture(autouse=True)
def _remove_caches(tmp_path: Path) -> Iterator[None]:
    """Each cache is 90 MB: none is left in pytest's kept temporary folders."""
    yield
    for path in tmp_path.rglob("ra-minilm-*.npy"):
        path.unlink()


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("ra-minilm-f32-v*.npy"))


def with_arrays(arrays: dict[str, Any]) -> Model:
    """The process's model (its tokenizer) with these weight arrays."""
    model = load_model(MODEL_DIR)
    return model._replace(**weight_fields(arrays, len(model.layers)))


def test_layout_names_every_converted_array(converted: dict[str, Any]) -> None:
    shapes = dict(minilm_weights.layout(CONFIG))
    assert set(shapes) == set(converted)
    assert all(converted[name].shape == shape for name, shape in shapes.items())


def test_written_once_then_mapped_byte_for_byte(tmp_path: Path, converted: dict[str, Any]) -> None:
    first = minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    assert len(cache_files(tmp_path)) == 1
    assert first["word"].flags.writeable  # converted in memory this time
    mapped = minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    assert not mapped["word"].flags.writeable  # a read-only map of the cache file
    for name, array in converted.items():
        assert mapped[name].dtype == np.float32
        assert mapped[name].flags.c_contiguous
        np.testing.assert_array_equal(mapped[name], array, err_msg=name)


def test_vectors_from_the_cache_are_identical(tmp_path: Path, converted: dict[str, Any]) -> None:
    minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    mapped = minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    texts = [line for f in seed_files() for line in f.read_text("utf-8").splitlines()]
    texts = [*[t for t in texts if len(t) > 200][:12], "multi-turn jailbreak", "a"]
    tokenizer = load_model(MODEL_DIR).tokenizer
    ids = [e.ids for e in tokenizer.encode_batch(texts)]
    for batch in (ids[:1], ids[:6], ids[6:], ids[-2:]):
        np.testing.assert_array_equal(
            encode_packed(with_arrays(mapped), batch), encode_packed(with_arrays(converted), batch)
        )


def test_a_damaged_cache_is_converted_again(tmp_path: Path, converted: dict[str, Any]) -> None:
    minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    (path,) = cache_files(tmp_path)
    path.write_bytes(path.read_bytes()[: 1 << 20])  # cut short
    again = minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    np.testing.assert_array_equal(again["0.w_qkv"], converted["0.w_qkv"])
    mapped = minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    assert not mapped["word"].flags.writeable  # rewritten whole
    np.testing.assert_array_equal(mapped["5.ln2_b"], converted["5.ln2_b"])


def test_an_unwritable_folder_is_passed_over(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    fallback = tmp_path / "cache"
    minilm_weights.load_weights(MODEL_DIR, CONFIG, [blocked / "minilm", fallback])
    assert len(cache_files(fallback)) == 1


def test_no_writable_folder_still_loads(tmp_path: Path, converted: dict[str, Any]) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    arrays = minilm_weights.load_weights(MODEL_DIR, CONFIG, [blocked / "minilm"])
    np.testing.assert_array_equal(arrays["word"], converted["word"])


def test_an_older_cache_is_removed_when_a_new_one_is_written(tmp_path: Path) -> None:
    stale = tmp_path / "ra-minilm-f32-v0-123-456.npy"
    stale.write_bytes(b"old")
    minilm_weights.load_weights(MODEL_DIR, CONFIG, [tmp_path])
    assert not stale.exists()
    assert len(cache_files(tmp_path)) == 1
