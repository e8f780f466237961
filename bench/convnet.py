"""A synthetic YOLO-shaped convolutional detector for CPU runtime gates that need real inference
work but no downloaded model.

``convnet_model`` writes images[1, 3, S, S] -> output0[1, 84, N] (N = anchors of strides 8/16/32):
a strided 3x3 Conv + SiLU backbone (about 2 GFLOPs at 640, a quarter of YOLOv8n) with a 1x1 Conv
head per level, concatenated as a YOLOv8 head. Its output is the seeded ``synthetic.raw_output``
(exactly ``candidates`` boxes above conf 0.25) plus the head scaled by 1e-4, so decode and NMS see
a realistic, input-independent candidate set while the runtime does the convolutions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .synthetic import raw_output

#: (out channels, stride) of each backbone 3x3 conv; the outputs after strides 8, 16, 32 feed the head.
BACKBONE = ((16, 2), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (256, 2))


def convnet_model(path: str | os.PathLike[str], candidates: int = 150, input_size: int = 640,
                  num_classes: int = 80, seed: int = 0) -> Path:
    """Writes the model to ``path`` (needs the ``onnx`` package) and returns the path."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("building the synthetic model needs onnx: pip install onnx") from None
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def conv(x: str, cin: int, cout: int, k: int, stride: int, name: str, act: bool) -> str:
        w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"{name}.w"))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b"))
        nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.y"], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4))
        if not act:
            return f"{name}.y"
        nodes.append(helper.make_node("Sigmoid", [f"{name}.y"], [f"{name}.s"]))
        nodes.append(helper.make_node("Mul", [f"{name}.y", f"{name}.s"], [f"{name}.a"]))
        return f"{name}.a"

    x, cin, stride, levels = "images", 3, 1, []
    for i, (cout, s) in enumerate(BACKBONE):
        x, cin, stride = conv(x, cin, cout, 3, s, f"b{i}", True), cout, stride * s
        if stride in (8, 16, 32) and (i + 1 == len(BACKBONE) or BACKBONE[i + 1][1] == 2):
            levels.append((x, cin))
    heads = []
    for j, (feat, c) in enumerate(levels):
        y = conv(feat, c, 4 + num_classes, 1, 1, f"h{j}", False)
        nodes.append(helper.make_node("Reshape", [y, "flat"], [f"h{j}.f"]))
        heads.append(f"h{j}.f")
    anchors = sum((input_size // s) ** 2 for s in (8, 16, 32))
    nodes += [helper.make_node("Concat", heads, ["cat"], axis=2),
              helper.make_node("Mul", ["cat", "scale"], ["small"]),
              helper.make_node("Add", ["small", "raw"], ["output0"])]
    inits += [numpy_helper.from_array(np.array([1, 4 + num_classes, -1], np.int64), "flat"),
              numpy_helper.from_array(np.array(1e-4, np.float32), "scale"),
              numpy_helper.from_array(raw_output(candidates, 1, num_classes, anchors, input_size, seed=seed), "raw")]
    graph = helper.make_graph(
        nodes, "fastdet_bench_convnet",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, input_size, input_size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + num_classes, anchors])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="fastdet.bench")
    model.ir_version = 8
    for k, v in {"task": "detect", "names": repr({i: str(i) for i in range(num_classes)}),
                 "imgsz": repr([input_size, input_size]), "stride": "32"}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    p = Path(path)
    onnx.save(model, str(p))
    return p
