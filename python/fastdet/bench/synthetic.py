"""Deterministic inputs for benchmarks: frames, raw YOLOv8 head outputs, a tiny ONNX detector.

Everything is generated from a seed, so two runs (or two machines) time the same data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"frame size: expected WIDTHxHEIGHT such as 1920x1080, got {text!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"frame size: expected positive width and height, got {text!r}")
    return w, h


def frame(width: int = 1920, height: int = 1080, seed: int = 0) -> np.ndarray:
    """uint8[height, width, 3] BGR: smooth gradients plus noise (letterbox cost does not depend on
    content, but a constant frame could flatter a cache or a compressor)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    base = np.stack([(x + y) * 0.5, np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width))], -1)
    noise = rng.integers(0, 32, size=(height, width, 3), dtype=np.uint8)
    return np.ascontiguousarray((base * 0.85).astype(np.uint8) + noise)


def raw_output(candidates: int, batch: int = 1, num_classes: int = 80, anchors: int = 8400,
               input_size: int = 640, conf: float = 0.25, seed: int = 0) -> np.ndarray:
    """float32[batch, 4 + num_classes, anchors]: a YOLOv8 head output with exactly ``candidates``
    anchors per image whose best class score is above ``conf``.

    Candidates come in clusters of ~8 jittered boxes around one object, of one class, as a trained
    detector's raw output does (so NMS has real overlaps to resolve); the other anchors score below
    ``conf``. Boxes are cx, cy, w, h in input pixels.
    """
    if not 0 <= candidates <= anchors:
        raise ValueError(f"candidates: expected 0..{anchors}, got {candidates}")
    rng = np.random.default_rng(seed)
    out = np.empty((batch, 4 + num_classes, anchors), dtype=np.float32)
    for b in range(batch):
        o = out[b]
        o[0] = rng.uniform(0, input_size, anchors)
        o[1] = rng.uniform(0, input_size, anchors)
        o[2] = rng.uniform(8, input_size / 3, anchors)
        o[3] = rng.uniform(8, input_size / 3, anchors)
        o[4:] = rng.uniform(0, conf * 0.8, (num_classes, anchors))
        if candidates == 0:
            continue
        idx = rng.choice(anchors, candidates, replace=False)
        objects = max(1, candidates // 8)
        centre = rng.uniform(0.1 * input_size, 0.9 * input_size, (objects, 2))
        size = rng.uniform(16, input_size / 3, (objects, 2))
        cls = rng.integers(0, num_classes, objects)
        which = rng.integers(0, objects, candidates)
        jitter = rng.normal(0, 0.08, (candidates, 4))
        o[0, idx] = centre[which, 0] + jitter[:, 0] * size[which, 0]
        o[1, idx] = centre[which, 1] + jitter[:, 1] * size[which, 1]
        o[2, idx] = size[which, 0] * (1 + jitter[:, 2])
        o[3, idx] = size[which, 1] * (1 + jitter[:, 3])
        o[4 + cls[which], idx] = rng.uniform(conf + 0.01, 0.95, candidates)
    return out


def tiny_model(path: str | os.PathLike[str], candidates: int = 150, input_size: int = 640,
               num_classes: int = 80, seed: int = 0) -> Path:
    """Writes a tiny YOLOv8-shaped ONNX detector (images[1, 3, S, S] -> output0[1, 4+nc, N]) to
    ``path`` and returns it.

    Its output is ``raw_output(candidates)`` plus a small term computed from the input (strided
    average pools, as the three YOLO levels, mixed by a MatMul), so the session really reads the
    input but inference stays cheap: the per-frame overhead around inference dominates, which is
    what the end-to-end gate compares. Needs the ``onnx`` package.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("building the synthetic model needs onnx: pip install onnx") from None
    levels = (8, 16, 32)
    anchors = sum((input_size // s) ** 2 for s in levels)
    raw = raw_output(candidates, 1, num_classes, anchors, input_size, seed=seed)
    rng = np.random.default_rng(seed + 1)
    mix = (rng.standard_normal((4 + num_classes, 3)) * 1e-4).astype(np.float32)
    nodes, pooled = [], []
    for s in levels:
        nodes.append(helper.make_node("AveragePool", ["images"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]))
        nodes.append(helper.make_node("Reshape", [f"p{s}", "flat_shape"], [f"f{s}"]))
        pooled.append(f"f{s}")
    nodes += [
        helper.make_node("Concat", pooled, ["cat"], axis=2),
        helper.make_node("MatMul", ["mix", "cat"], ["mixed"]),
        helper.make_node("Add", ["mixed", "raw"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "fastdet_bench_tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, input_size, input_size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + num_classes, anchors])],
        [numpy_helper.from_array(np.array([1, 3, -1], dtype=np.int64), "flat_shape"),
         numpy_helper.from_array(mix, "mix"), numpy_helper.from_array(raw, "raw")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="fastdet.bench")
    model.ir_version = 8
    names = {i: str(i) for i in range(num_classes)}
    for k, v in {"task": "detect", "names": repr(names), "imgsz": repr([input_size, input_size]),
                 "stride": "32"}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    p = Path(path)
    onnx.save(model, str(p))
    return p
