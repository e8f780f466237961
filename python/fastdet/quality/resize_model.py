"""A copy of a fixed-size YOLOv8/11 ONNX export that runs at another input size.

Neither ONNX Runtime nor OpenVINO can run such an export at another size by themselves: the
exporter traced the head at one size, so the anchor grid (cell centres and strides for 8400
boxes at 640x640) and the DFL's reshape to ``[1, 4, 16, 8400]`` are constants in the graph, and
OpenVINO's ``reshape`` fails in shape inference on them. The convolutions themselves do not
care. This module rewrites exactly those constants for the new size: the anchor grid is
recomputed as ultralytics' ``make_anchors`` does (cell centres + 0.5 per stride level, row-major,
levels 8/16/32) after checking that the old constants are that grid, and each shape constant
holding the old box count gets the new one. A model whose constants are not recognised is
refused, not guessed at. Models with a dynamic height and width need no rewrite: only their
``imgsz`` metadata changes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError

STRIDES = (8, 16, 32)


def anchor_grid(height: int, width: int, strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """(float32[2, N] cell centres in grid units, float32[N] stride of each) for an input of
    ``height`` x ``width``: ultralytics' make_anchors with offset 0.5."""
    points, stride_of = [], []
    for s in strides:
        h, w = height // s, width // s
        ys, xs = np.meshgrid(np.arange(h, dtype=np.float32) + 0.5, np.arange(w, dtype=np.float32) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()]))
        stride_of.append(np.full(h * w, s, np.float32))
    return np.concatenate(points, axis=1), np.concatenate(stride_of)


def _check_size(size: tuple[int, int]) -> None:
    if any(not isinstance(v, int) or v < max(STRIDES) or v % max(STRIDES) for v in size):
        raise InputError(f"size: expected multiples of {max(STRIDES)} of at least {max(STRIDES)} pixels, got {size}")


def resize_onnx(src: str | Path, dst: str | Path, size: tuple[int, int]) -> Path:
    """Writes ``src`` rewritten for an input of ``size`` (height, width) to ``dst`` and returns it."""
    import onnx
    from onnx import numpy_helper

    _check_size(size)
    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src))
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ModelError(f"{src.name}: expected an NCHW image input")
    h0, w0 = dims[2].dim_value, dims[3].dim_value
    if h0 and w0:
        n0 = sum((h0 // s) * (w0 // s) for s in STRIDES)
        n1 = sum((size[0] // s) * (size[1] // s) for s in STRIDES)
        old_points, old_strides = anchor_grid(h0, w0)
        new_points, new_strides = anchor_grid(*size)
        grid_found = stride_found = False
        for init in graph.initializer:
            a = numpy_helper.to_array(init)
            if a.dtype == np.float32 and a.size == 2 * n0 and np.array_equal(a.reshape(2, n0), old_points):
                init.CopyFrom(numpy_helper.from_array(new_points.reshape(*a.shape[:-1], n1), init.name))
                grid_found = True
            elif a.dtype == np.float32 and a.size == n0 and np.array_equal(a.reshape(n0), old_strides):
                init.CopyFrom(numpy_helper.from_array(new_strides.reshape(*a.shape[:-1], n1), init.name))
                stride_found = True
            elif a.dtype == np.int64 and a.ndim == 1 and a.size <= 8 and (a == n0).any():
                init.CopyFrom(numpy_helper.from_array(np.where(a == n0, n1, a), init.name))
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].t.dims:
                a = numpy_helper.to_array(node.attribute[0].t)
                if a.dtype == np.float32 and a.size in (n0, 2 * n0):
                    raise ModelError(f"{src.name}: its anchor grid is a Constant node, which fastdet does not rewrite; "
                                     f"export it at {size[0]}x{size[1]} or with dynamic=True")
                if a.dtype == np.int64 and a.ndim == 1 and a.size <= 8 and (a == n0).any():
                    node.attribute[0].t.CopyFrom(numpy_helper.from_array(np.where(a == n0, n1, a)))
        if not (grid_found and stride_found):
            raise ModelError(f"{src.name}: no YOLOv8-style anchor grid for {w0}x{h0} found in the graph, so it cannot "
                             f"be resized here; export it at {size[0]}x{size[1]} or with dynamic=True")
        dims[2].dim_value, dims[3].dim_value = size
        for out in graph.output:
            for d in out.type.tensor_type.shape.dim:
                if d.dim_value == n0:
                    d.dim_value = n1
        del graph.value_info[:]  # shapes inferred for the old size; runtimes infer them again
    for prop in model.metadata_props:
        if prop.key == "imgsz":
            prop.value = str(list(size))
    if not any(p.key == "imgsz" for p in model.metadata_props):
        entry = model.metadata_props.add()
        entry.key, entry.value = "imgsz", str(list(size))
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def parse_sizes(text: str) -> list[int]:
    """"320,416,640" -> [320, 416, 640]."""
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--sizes: expected comma-separated pixel sizes like 320,416,640, got {text!r}") from None
    if not sizes:
        raise InputError("--sizes: expected at least one size")
    for s in sizes:
        _check_size((s, s))
    return sizes


def model_size(path: Path) -> tuple[int, int] | None:
    """The (height, width) an ONNX file's input declares, else its imgsz metadata, else None."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) == 4 and dims[2].dim_value and dims[3].dim_value:
        return dims[2].dim_value, dims[3].dim_value
    meta = {p.key: p.value for p in model.metadata_props}
    if "imgsz" in meta:
        v = ast.literal_eval(meta["imgsz"])
        return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))
    return None
