"""Where an ONNX file's external tensor data lives, checked before any runtime opens the file.

A model file can keep tensors in other files (``external_data`` entries naming a location
relative to the model). A crafted location (``../../etc/...``, an absolute path, a symlink out of
the folder) would have a runtime read files outside the model's folder; some runtimes check this,
not all of them and not in every version. So fastdet reads the locations itself, from the
protobuf wire format (no ``onnx`` package needed), and refuses a model whose external data is
not inside its own folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from .errors import ModelError

# Field numbers of onnx.proto that can hold tensors, directly or in subgraphs / functions.
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_FUNCTION_NODE = 7
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL_DATA = 13
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) of one message; length-delimited values as bytes."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield field, wire, value
        elif wire == 1:
            i += 8
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > n:
                raise ValueError("truncated field")
            yield field, wire, buf[i:i + size]
            i += size
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _sub(buf: bytes, *numbers: int) -> Iterator[bytes]:
    for field, wire, value in _fields(buf):
        if wire == 2 and field in numbers:
            assert isinstance(value, bytes)
            yield value


def _tensor_locations(tensor: bytes) -> Iterator[str]:
    for entry in _sub(tensor, _TENSOR_EXTERNAL_DATA):
        kv = {f: v for f, w, v in _fields(entry) if w == 2}
        if kv.get(_ENTRY_KEY) == b"location":
            yield bytes(kv.get(_ENTRY_VALUE, b"")).decode("utf-8", "replace")  # type: ignore[arg-type]


def _sparse_locations(sparse: bytes) -> Iterator[str]:
    for t in _sub(sparse, _SPARSE_VALUES, _SPARSE_INDICES):
        yield from _tensor_locations(t)


def _node_locations(node: bytes) -> Iterator[str]:
    for attr in _sub(node, _NODE_ATTRIBUTE):
        for field, wire, value in _fields(attr):
            if wire != 2:
                continue
            assert isinstance(value, bytes)
            if field in (_ATTR_T, _ATTR_TENSORS):
                yield from _tensor_locations(value)
            elif field in (_ATTR_G, _ATTR_GRAPHS):
                yield from _graph_locations(value)
            elif field in (_ATTR_SPARSE, _ATTR_SPARSES):
                yield from _sparse_locations(value)


def _graph_locations(graph: bytes) -> Iterator[str]:
    for field, wire, value in _fields(graph):
        if wire != 2:
            continue
        assert isinstance(value, bytes)
        if field == _GRAPH_INITIALIZER:
            yield from _tensor_locations(value)
        elif field == _GRAPH_SPARSE_INITIALIZER:
            yield from _sparse_locations(value)
        elif field == _GRAPH_NODE:
            yield from _node_locations(value)


def external_data_locations(model_bytes: bytes) -> list[str]:
    """Every external-data location named anywhere in a serialised ModelProto."""
    out: list[str] = []
    for field, wire, value in _fields(model_bytes):
        if wire != 2:
            continue
        assert isinstance(value, bytes)
        if field == _MODEL_GRAPH:
            out.extend(_graph_locations(value))
        elif field == _MODEL_FUNCTIONS:
            for node in _sub(value, _FUNCTION_NODE):
                out.extend(_node_locations(node))
    return out


def check_external_data(path: Path) -> None:
    """Raises ModelError when the ONNX file at ``path`` names external data outside its folder
    (an absolute path, ``..``, or a symlink leading out). Files that are not ONNX protobufs are
    left to the runtime to reject."""
    if path.suffix.lower() != ".onnx":
        return
    try:
        data = path.read_bytes()
        locations = external_data_locations(data)
    except (OSError, ValueError):
        return  # unreadable or not a protobuf: the runtime's own error is the clearer one
    folder = Path(os.path.realpath(path.parent))
    for loc in locations:
        target = Path(os.path.realpath(folder / loc))
        if os.path.isabs(loc) or ".." in Path(loc).parts or os.path.commonpath([folder, target]) != str(folder):
            raise ModelError(f"{path.name}: external tensor data {loc!r} is outside the model's folder; refusing to "
                             "read it (move the data next to the model and re-save it with a relative location)")
