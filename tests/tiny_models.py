"""Tiny ONNX detectors built with onnx.helper, so tests need no downloaded model.

Each model scores a fixed set of boxes by the mean brightness of the input image, so a
white frame yields detections and a black one none, and the boxes (in input pixels) are
known exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _save(graph, path: Path, metadata: dict[str, str] | None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def constant_output(path: Path, input_hw, output_shape, metadata: dict[str, str] | None = None) -> Path:
    """A model whose output is a zero constant of ``output_shape`` for a [1, 3, *input_hw] input
    (the input only adds a zero term): a head of any shape, for format and shape checks."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output_shape))
    const = numpy_helper.from_array(np.zeros(output_shape, np.float32), "c")
    zero = numpy_helper.from_array(np.zeros((1,), np.float32), "z")
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "z"], ["mz"]),
             helper.make_node("Add", ["c", "mz"], ["output0"])]
    return _save(helper.make_graph(nodes, "constant_head", [x], [y], [const, zero]), path, metadata)


def yolov8_like(path: Path, boxes_cxcywh: np.ndarray, class_weights: np.ndarray, *, size=64,
                dynamic_batch=True, metadata: dict[str, str] | None = None) -> Path:
    """[B, 4+nc, N] output: boxes fixed, class score = mean(image) * class_weights[c, n]."""
    nc, n = class_weights.shape
    batch = "batch" if dynamic_batch else 1
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 4 + nc, n])
    inits = [
        numpy_helper.from_array(boxes_cxcywh.T.reshape(1, 4, n).astype(np.float32), "boxes"),
        numpy_helper.from_array(class_weights.reshape(1, nc, n).astype(np.float32), "weights"),
        numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Squeeze", ["m4", "axis"], ["m"]),  # [B, 1, 1]
        helper.make_node("Mul", ["m", "weights"], ["scores"]),  # [B, nc, N]
        helper.make_node("Mul", ["m", "zero"], ["mz"]),
        helper.make_node("Add", ["boxes", "mz"], ["bb"]),  # [B, 4, N]
        helper.make_node("Concat", ["bb", "scores"], ["output0"], axis=1),
    ]
    inits.append(numpy_helper.from_array(np.array([3], np.int64), "axis"))
    graph = helper.make_graph(nodes, "tiny_yolov8", [x], [y], inits)
    return _save(graph, path, metadata)


def end2end_like(path: Path, rows: np.ndarray, *, size=64, metadata=None) -> Path:
    """[B, K, 6] output: rows fixed (x1 y1 x2 y2 score class), score scaled by mean(image)."""
    k = rows.shape[0]
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, k, 6])
    scale = np.zeros((1, k, 6), np.float32)
    scale[..., 4] = 1.0
    keep = np.ones((1, k, 6), np.float32)
    keep[..., 4] = 0.0
    inits = [numpy_helper.from_array(rows.reshape(1, k, 6).astype(np.float32), "rows"),
             numpy_helper.from_array(scale, "score_mask"), numpy_helper.from_array(keep, "keep_mask")]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=1),  # [1,1,1,1]
        helper.make_node("Reshape", ["m", "shape"], ["m3"]),
        helper.make_node("Mul", ["rows", "keep_mask"], ["fixed"]),
        helper.make_node("Mul", ["rows", "score_mask"], ["s"]),
        helper.make_node("Mul", ["s", "m3"], ["scaled"]),
        helper.make_node("Add", ["fixed", "scaled"], ["output0"]),
    ]
    inits.append(numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape"))
    graph = helper.make_graph(nodes, "tiny_end2end", [x], [y], inits)
    return _save(graph, path, metadata)


def not_a_detector(path: Path) -> Path:
    """A classifier-shaped model: [1, 3, 32, 32] -> [1, 10]."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], axes=[2, 3], keepdims=0),
             helper.make_node("MatMul", ["m", "w"], ["logits"])]
    graph = helper.make_graph(nodes, "classifier", [x], [y],
                              [numpy_helper.from_array(np.ones((3, 10), np.float32), "w")])
    return _save(graph, path, None)


def model_with_external_data(path: Path, location: str, data: bytes) -> Path:
    """A [1,16] + w model whose initializer w lives in external data at `location`."""
    w = TensorProto()
    w.name, w.data_type = "w", TensorProto.FLOAT
    w.dims.extend([1, 16])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(data)))):
        e = w.external_data.add()
        e.key, e.value = k, v
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path.write_bytes(m.SerializeToString())
    return path
