"""Head-format guessing from output shapes: single-class YOLOv5/YOLOX heads ([B, N, 6]) are not
end-to-end ones, and the grid of a dynamic-size model at a size that is not a multiple of 32 is
the one its strided convolutions really produce (ceil(size / stride) cells per side)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import fastdet
from fastdet import heads
from tiny_models import _save, constant_output

STRIDES = (8, 16, 32)


def cells(h: int, w: int) -> int:
    """Grid cells of a stride 8/16/32 head on an h x w input, as convolutions produce them."""
    return sum(-(-h // s) * -(-w // s) for s in STRIDES)


def constant_model(path, input_hw, output_shape, names=None):
    return constant_output(path, input_hw, output_shape, {"names": names} if names is not None else None)


def strided_conv_model(path, channels: int, bias: np.ndarray, *, imgsz: str):
    """A YOLOv8-layout model [B, channels, anchors] whose anchors come from three real Conv layers
    (kernel 3, padding 1, strides 8/16/32) on a dynamic-size input: every anchor is ``bias``."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", channels, "anchors"])
    inits = [numpy_helper.from_array(np.zeros((channels, 3, 3, 3), np.float32), "w"),
             numpy_helper.from_array(bias.astype(np.float32), "b"),
             numpy_helper.from_array(np.array([0, channels, -1], np.int64), "flat")]
    nodes = []
    for s in STRIDES:
        nodes += [helper.make_node("Conv", ["images", "w", "b"], [f"p{s}"], kernel_shape=[3, 3],
                                   strides=[s, s], pads=[1, 1, 1, 1]),
                  helper.make_node("Reshape", [f"p{s}", "flat"], [f"f{s}"])]
    nodes.append(helper.make_node("Concat", [f"f{s}" for s in STRIDES], ["output0"], axis=2))
    graph = helper.make_graph(nodes, "strided_head", [x], [y], inits)
    return _save(graph, path, {"names": "{0: 'widget'}", "imgsz": imgsz})


# --------------------------------------------------------------- single-class [B, N, 6] heads


@pytest.mark.parametrize("names", ["{0: 'widget'}", None])
@pytest.mark.parametrize("size", [640, 96])  # 96: 3 * 189 = 567 anchors, few enough to look like K rows
def test_single_class_yolov5_is_not_end2end(tmp_path, names, size):
    n = 3 * cells(size, size)
    m = constant_model(tmp_path / "v5.onnx", (size, size), (1, n, 6), names)
    info = fastdet.Detector(m).info
    assert info.format == "yolov5"
    assert info.head.num_classes == 1 and info.head.num_anchors == n
    assert info.recipe.scale != 1.0  # ultralytics preprocessing (0-1 inputs), not YOLOX's


@pytest.mark.parametrize("names", ["{0: 'widget'}", None])
@pytest.mark.parametrize("size", [640, 192, 64])  # 192: 756 anchors; 64: 84
def test_single_class_yolox_is_not_end2end(tmp_path, names, size):
    n = cells(size, size)
    m = constant_model(tmp_path / "x.onnx", (size, size), (1, n, 6), names)
    info = fastdet.Detector(m).info
    assert info.format == "yolox"
    assert info.head.num_classes == 1 and info.head.num_anchors == n
    assert info.recipe.scale == 1.0  # YOLOX's preprocessing (0-255 inputs)


@pytest.mark.parametrize("names", ["{0: 'widget'}", "{0: 'a', 1: 'b', 2: 'c'}", None])
@pytest.mark.parametrize("rows", [300, 100])
def test_end2end_head_is_still_end2end(tmp_path, names, rows):
    m = constant_model(tmp_path / "e2e.onnx", (640, 640), (1, rows, 6), names)
    info = fastdet.Detector(m).info
    assert info.format == "end2end" and info.head.num_anchors == rows


def test_many_classes_with_six_columns_is_end2end_whatever_the_row_count(tmp_path):
    # Metadata naming 3 classes rules out YOLOv5/YOLOX ([B, N, 8]) even at a grid-sized N.
    m = constant_model(tmp_path / "e2e.onnx", (640, 640), (1, 8400, 6), "{0: 'a', 1: 'b', 2: 'c'}")
    assert fastdet.Detector(m).info.format == "end2end"


@pytest.mark.parametrize("shape,forced", [((1, 8400, 6), "end2end"), ((1, 25200, 6), "end2end"),
                                          ((1, 300, 6), "yolov5"), ((1, 8400, 6), "yolov5"),
                                          ((1, 25200, 6), "yolov5")])
def test_explicit_head_overrides_the_guess(tmp_path, shape, forced):
    m = constant_model(tmp_path / "m.onnx", (640, 640), shape, "{0: 'widget'}")
    info = fastdet.Detector(m, head=forced).info
    assert info.format == forced and info.head.num_anchors == shape[1]


def test_detect_head_guesses_by_anchor_count():
    fmt = heads.format_name
    assert fmt(heads.detect_head((1, 25200, 6), (640, 640), 1)) == "yolov5"
    assert fmt(heads.detect_head((1, 8400, 6), (640, 640), 1)) == "yolox"
    assert fmt(heads.detect_head((1, 756, 6), (192, 192))) == "yolox"
    assert fmt(heads.detect_head((1, 3 * 756, 6), (192, 192))) == "yolov5"
    assert fmt(heads.detect_head((1, 300, 6), (640, 640), 1)) == "end2end"
    assert fmt(heads.detect_head((1, 300, 6), (640, 640))) == "end2end"
    assert fmt(heads.detect_head((1, 8400, 6), (640, 640), forced="end2end")) == "end2end"
    # Multi-class heads are unchanged.
    assert fmt(heads.detect_head((1, 25200, 85), (640, 640), 80)) == "yolov5"
    assert fmt(heads.detect_head((1, 8400, 85), (640, 640))) == "yolox"
    assert fmt(heads.detect_head((1, 84, 8400), (640, 640))) == "yolov8"


# ------------------------------------------------------ grids at sizes not a multiple of 32


def _ort_grid_sides(size: int) -> list[int]:
    """Output side of a kernel-3, padding-1 Conv at each stride, from ONNX Runtime itself."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])
    nodes, outs = [], []
    for s in STRIDES:
        nodes.append(helper.make_node("Conv", ["x", "w"], [f"y{s}"], kernel_shape=[3, 3], strides=[s, s],
                                      pads=[1, 1, 1, 1]))
        outs.append(helper.make_tensor_value_info(f"y{s}", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [x], outs, [numpy_helper.from_array(np.ones((1, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ys = sess.run(None, {"x": np.zeros((1, 3, size, size), np.float32)})
    return [y.shape[2] for y in ys]


@pytest.mark.parametrize("size", [320, 330, 333, 350, 635, 640])
def test_grid_cells_match_real_convolutions(size):
    sides = _ort_grid_sides(size)
    assert heads._grid_cells(size, size, STRIDES) == sum(n * n for n in sides)


@pytest.mark.parametrize("backend", ["onnxruntime-cpu", "auto"])
def test_dynamic_size_model_at_330_detects(tmp_path, backend):
    # ONNX Runtime leaves the anchor count symbolic, so fastdet computes it from the grid (OpenVINO,
    # which "auto" picks on a CPU, reshapes the model static and reads it back).
    # cx cy w h, one class score: every anchor is the same box, so NMS leaves one.
    m = strided_conv_model(tmp_path / "dyn.onnx", 5, np.array([100, 120, 40, 60, 0.9]), imgsz="[330, 330]")
    det = fastdet.Detector(m, backend=backend)
    assert det.info.input_hw == (330, 330)
    assert det.info.head.num_anchors == 42 * 42 + 21 * 21 + 11 * 11
    frame = np.full((330, 330, 3), 255, np.uint8)
    for _ in range(2):  # the first run learns the output shape, later ones bind buffers
        dets = det.detect(frame)
        assert len(dets) == 1 and list(dets.class_ids) == [0]
        np.testing.assert_allclose(dets.xyxy[0], [80, 90, 120, 150], atol=1e-3)
        assert dets.scores[0] == pytest.approx(0.9)


def test_yolox_head_at_a_size_not_a_multiple_of_32_is_a_clear_model_error(tmp_path):
    # A YOLOX export at 330x330 has 42^2 + 21^2 + 11^2 anchors; it was once read as YOLOv5 (raw
    # grid offsets decoded as pixels). The native YOLOX grid is laid out for multiples of 32 only.
    m = constant_model(tmp_path / "x.onnx", (330, 330), (1, cells(330, 330), 85), None)
    with pytest.raises(fastdet.ModelError, match="multiples of 32: export at 352x352"):
        fastdet.Detector(m)


def test_names_that_do_not_fit_the_output_say_what_the_shape_alone_gives(tmp_path):
    from tiny_models import yolov8_like

    path = yolov8_like(tmp_path / "three.onnx", np.full((84, 4), 8, np.float32), np.zeros((3, 84), np.float32),
                       metadata={"imgsz": "[64, 64]"})
    with pytest.raises(fastdet.ModelError, match="list 1; by its shape alone it is yolov8 with 3 classes"):
        fastdet.Detector(path, names={0: "a"})
