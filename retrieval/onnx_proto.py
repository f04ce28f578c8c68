"""A minimal ONNX model writer: the protobuf wire format of the few messages a plain graph needs.

The fast query encoder (`retrieval.minilm_onnx`) builds its graph in memory and hands the bytes
to ONNX Runtime (installed with chromadb). The `onnx` package would add a dependency, its
protobuf pin and ~0.3 s of import for what is a dozen message fields; the field numbers below
are those of `onnx/onnx.proto` (IR version 10).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FLOAT", "INT64", "Graph", "model_bytes"]

IR_VERSION = 10
FLOAT = 1  # TensorProto.DataType
INT64 = 7
_DTYPES = {"float32": FLOAT, "int64": INT64}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7


Attr = int | float | list[int]
Parts = list[bytes | memoryview]  # a message as pieces, joined once at the end (no copies)


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 fields: negatives as two's complement, ten bytes
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _len(field: int, parts: Parts | bytes) -> Parts:
    """A length-delimited field holding `parts`."""
    pieces = [parts] if isinstance(parts, bytes) else parts
    size = sum(memoryview(p).nbytes for p in pieces)
    return [_varint(field << 3 | 2) + _varint(size), *pieces]


def _str(field: int, text: str) -> bytes:
    data = text.encode("utf-8")
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _attribute(name: str, value: Attr) -> bytes:
    head = _str(1, name)
    if isinstance(value, int):  # bool too
        return head + _int(20, _ATTR_INT) + _int(3, int(value))
    if isinstance(value, float):
        return head + _int(20, _ATTR_FLOAT) + _varint(2 << 3 | 5) + struct.pack("<f", value)
    return head + _int(20, _ATTR_INTS) + b"".join(_int(8, int(v)) for v in value)


def _tensor(name: str, array: np.ndarray, external: bool) -> Parts:
    """A TensorProto with its data inline, or marked external (`location` = its name): the
    session is then handed the array itself (`Graph.external`), no copy in the model bytes."""
    import numpy as np

    dtype = _DTYPES[str(array.dtype)]
    head = b"".join(_int(1, d) for d in array.shape) + _int(2, dtype) + _str(8, name)
    if external:
        location = b"".join(_len(13, _str(1, "location") + _str(2, name)))
        return [head + location + _int(14, 1)]  # data_location = EXTERNAL
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return [head, *_len(9, [memoryview(raw.reshape(-1).view(np.uint8).data)])]


def _value_info(name: str, elem_type: int, dims: Iterable[int | str]) -> bytes:
    shape = b"".join(
        b"".join(_len(1, _str(2, d) if isinstance(d, str) else _int(1, d)))  # Dimension
        for d in dims
    )
    tensor_type = _int(1, elem_type) + b"".join(_len(2, shape))
    return _str(1, name) + b"".join(_len(2, b"".join(_len(1, tensor_type))))


class Graph:
    """Nodes, initializers, inputs and outputs of one graph, added in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.external: dict[str, np.ndarray] = {}
        self._nodes: list[bytes] = []
        self._initializers: list[Parts] = []
        self._inputs: list[bytes] = []
        self._outputs: list[bytes] = []
        self._count = 0

    def constant(self, name: str, array: np.ndarray, *, external: bool = False) -> str:
        """Add an initializer (float32 or int64); returns its name. An `external` one is
        only declared: its array goes to `self.external`, for the session to be given."""
        self._initializers.append(_tensor(name, array, external))
        if external:
            self.external[name] = array
        return name

    def input(self, name: str, elem_type: int, dims: Sequence[int | str]) -> str:
        """Declare a graph input (a dimension may be a name, e.g. "n"); returns its name."""
        self._inputs.append(_value_info(name, elem_type, dims))
        return name

    def output(self, name: str, elem_type: int, dims: Sequence[int | str]) -> None:
        """Declare a graph output (a node must produce `name`)."""
        self._outputs.append(_value_info(name, elem_type, dims))

    def node(self, op: str, inputs: Sequence[str], out: str | None = None, **attrs: Attr) -> str:
        """Add an operator node of the default domain; returns the name of its one output."""
        self._count += 1
        out = out or f"{op.lower()}_{self._count}"
        body = b"".join(_str(1, i) for i in inputs) + _str(2, out)
        body += _str(3, f"n{self._count}") + _str(4, op)
        body += b"".join(b"".join(_len(5, _attribute(k, v))) for k, v in attrs.items())
        self._nodes.append(body)
        return out

    def parts(self) -> Parts:
        """The GraphProto's fields, as pieces."""
        out: Parts = []
        for node in self._nodes:
            out += _len(1, node)
        out.append(_str(2, self.name))
        for tensor in self._initializers:
            out += _len(5, tensor)
        for value in self._inputs:
            out += _len(11, value)
        for value in self._outputs:
            out += _len(12, value)
        return out


def model_bytes(graph: Graph, opset: int, producer: str = "ra") -> bytes:
    """A serialized ModelProto holding `graph`, for operator set `opset` of the default domain."""
    opset_import = _str(1, "") + _int(2, opset)
    parts: Parts = [_int(1, IR_VERSION), _str(2, producer)]
    parts += _len(7, graph.parts())
    parts += _len(8, opset_import)
    return b"".join(parts)
