"""The MiniLM weights in the encoder's layout, converted once and memory-mapped after that.

The shipped `model.safetensors` stores linear weights (out, in) and query, key and value
apart; the encoder wants them (in, out), contiguous, with query/key/value fused and the
query pre-scaled. Reading the 90 MB file and converting takes ~0.15 s, a big part of a
one-shot `ra search`; so the converted float32 arrays are written once as one `.npy` file and
every later process maps it (a few ms; the OS page cache shares it between processes).
The cached arrays are the converted ones byte for byte, so the vectors do not change.

The cache file sits beside the model (the package's data folder) when that is writable, else
in the user cache folder; its name carries a format version and the source file's size and
modification time, so a changed model is converted again. A cache that cannot be written or
read is skipped (the weights are then converted in memory, as before).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    F32 = NDArray[np.float32]

Shapes = Sequence[tuple[str, tuple[int, ...]]]

__all__ = ["LAYER_FIELDS", "cache_dirs", "convert", "layout", "load_weights"]

FORMAT = 1
# Fields of one layer, in `minilm_model._Layer` order.
LAYER_FIELDS = (
    "w_qkv",
    "b_qkv",
    "w_out",
    "b_out",
    "ln1_g",
    "ln1_b",
    "w_up",
    "b_up",
    "w_down",
    "b_down",
    "ln2_g",
    "ln2_b",
)
# Each array starts on a 64-byte boundary of the file (the .npy header is 64-aligned too).
_ALIGN = 16


def layout(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every converted array, in file order, from the model's config.json."""
    hidden, inter = int(config["hidden_size"]), int(config["intermediate_size"])
    shapes: list[tuple[str, tuple[int, ...]]] = [
        ("word", (int(config["vocab_size"]), hidden)),
        ("position", (int(config["max_position_embeddings"]), hidden)),
        ("token_type", (int(config["type_vocab_size"]), hidden)),
        ("ln_g", (hidden,)),
        ("ln_b", (hidden,)),
    ]
    per_layer = {
        "w_qkv": (hidden, 3 * hidden),
        "b_qkv": (3 * hidden,),
        "w_out": (hidden, hidden),
        "w_up": (hidden, inter),
        "b_up": (inter,),
        "w_down": (inter, hidden),
    }
    for i in range(int(config["num_hidden_layers"])):
        shapes += [(f"{i}.{f}", per_layer.get(f, (hidden,))) for f in LAYER_FIELDS]
    return shapes


def convert(model_dir: Path, config: dict[str, Any]) -> dict[str, F32]:
    """The encoder's arrays computed from `model.safetensors` (names as in `layout`)."""
    import numpy as np
    from safetensors.numpy import load_file

    tensors = load_file(str(model_dir / "model.safetensors"))
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    scale = np.float32(1.0 / (hidden // heads) ** 0.5)

    def t(name: str) -> F32:
        return np.ascontiguousarray(tensors[name], dtype=np.float32)

    def lin(name: str) -> F32:
        return np.ascontiguousarray(tensors[name + ".weight"].T, dtype=np.float32)

    out = {
        "word": t("embeddings.word_embeddings.weight"),
        "position": t("embeddings.position_embeddings.weight"),
        "token_type": t("embeddings.token_type_embeddings.weight"),
        "ln_g": t("embeddings.LayerNorm.weight"),
        "ln_b": t("embeddings.LayerNorm.bias"),
    }
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        a = p + "attention.self."
        w_qkv = np.concatenate([lin(a + "query") * scale, lin(a + "key"), lin(a + "value")], 1)
        layer = {
            "w_qkv": np.ascontiguousarray(w_qkv),
            "b_qkv": np.concatenate(
                [t(a + "query.bias") * scale, t(a + "key.bias"), t(a + "value.bias")]
            ),
            "w_out": lin(p + "attention.output.dense"),
            "b_out": t(p + "attention.output.dense.bias"),
            "ln1_g": t(p + "attention.output.LayerNorm.weight"),
            "ln1_b": t(p + "attention.output.LayerNorm.bias"),
            "w_up": lin(p + "intermediate.dense"),
            "b_up": t(p + "intermediate.dense.bias"),
            "w_down": lin(p + "output.dense"),
            "b_down": t(p + "output.dense.bias"),
            "ln2_g": t(p + "output.LayerNorm.weight"),
            "ln2_b": t(p + "output.LayerNorm.bias"),
        }
        out.update((f"{i}.{name}", array) for name, array in layer.items())
    return out


def cache_dirs(model_dir: Path) -> Iterator[Path]:
    """Where a cache may live, in order: beside the model, then the user cache folder
    (platformdirs is imported only if the first is passed over)."""
    yield model_dir
    import platformdirs

    yield Path(platformdirs.user_cache_dir("research-assistant")) / "minilm"


def _cache_name(model_dir: Path) -> str:
    stat = (model_dir / "model.safetensors").stat()
    return f"ra-minilm-f32-v{FORMAT}-{stat.st_size}-{stat.st_mtime_ns}.npy"


def _offsets(shapes: Shapes) -> Iterator[tuple[str, int, int]]:
    """(name, start, size) in float32 elements of each array in the flat file."""
    start = 0
    for name, shape in shapes:
        size = 1
        for dim in shape:
            size *= dim
        yield name, start, size
        start += -(-size // _ALIGN) * _ALIGN


def _total(shapes: Shapes) -> int:
    *_, (_, start, size) = _offsets(shapes)
    return start + -(-size // _ALIGN) * _ALIGN


def _read(path: Path, shapes: Shapes) -> dict[str, F32] | None:
    """Read-only views of a cache file's arrays; None if it is missing or not this layout."""
    import numpy as np

    try:
        flat = np.load(path, mmap_mode="r").view(np.ndarray)  # plain views of the map
    except (OSError, ValueError):
        return None
    if flat.dtype != np.float32 or flat.shape != (_total(shapes),):
        return None
    dims = dict(shapes)
    return {name: flat[s : s + n].reshape(dims[name]) for name, s, n in _offsets(shapes)}


def _write(directory: Path, name: str, arrays: dict[str, F32], shapes: Shapes) -> bool:
    """Write the cache atomically (temp file, then rename); False if the folder refuses."""
    import numpy as np

    try:
        directory.mkdir(parents=True, exist_ok=True)
        flat = np.zeros(_total(shapes), dtype=np.float32)
        for key, start, size in _offsets(shapes):
            flat[start : start + size] = arrays[key].reshape(-1)
        fd, tmp = tempfile.mkstemp(prefix=".ra-minilm-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, flat)
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600; other users may share the model
            os.replace(tmp, directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    for stale in directory.glob("ra-minilm-f32-v*.npy"):  # an older model's or format's
        if stale.name != name:
            with contextlib.suppress(OSError):
                stale.unlink()
    return True


def load_weights(
    model_dir: Path, config: dict[str, Any], directories: Sequence[Path] | None = None
) -> dict[str, F32]:
    """The encoder's arrays: mapped from the cache, else converted (and cached for next time).

    `directories` are the cache folders to use (default `cache_dirs(model_dir)`).
    Raises OSError or ValueError when the model files themselves cannot be read.
    """

    def folders() -> Iterable[Path]:
        return cache_dirs(model_dir) if directories is None else directories

    shapes = layout(config)
    name = _cache_name(model_dir)
    for folder in folders():
        cached = _read(folder / name, shapes)
        if cached is not None:
            return cached
    arrays = convert(model_dir, config)
    for folder in folders():
        if _write(folder, name, arrays, shapes):
            break
    return arrays
