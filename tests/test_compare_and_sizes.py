"""fastdet compare (box-level agreement, gates) and the size/backend sweep with its model resize."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import fastdet
from fastdet.cli import main
from fastdet.quality.compare import Agreement, failures, parse_thresholds
from fastdet.quality.resize_model import anchor_grid, parse_sizes, resize_onnx
from tiny_datasets import NAMES, two_images
from tiny_models import _save, yolov8_like


def _dets(boxes, scores, classes):
    return fastdet.Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                              np.array(classes, np.int32), NAMES, (100, 100))


def test_agreement_counts():
    a = _dets([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 60]], [0.9, 0.8, 0.7], [0, 0, 1])
    b = _dets([[1, 0, 11, 10], [50, 50, 60, 60], [70, 70, 80, 80]], [0.85, 0.6, 0.5], [0, 0, 1])
    agg = Agreement()
    agg.add(a, b)
    agg.add(_dets([], [], []), _dets([], [], []))
    s = agg.summary()
    # Pairs: the two first boxes (class 0, IoU 9/11); the class-1 box of A has no class-1 twin in B
    # (B's box at 50..60 is class 0, A's at 20..40 does not overlap it).
    assert (agg.matched, agg.unmatched_a, agg.unmatched_b) == (1, 2, 2)
    assert s["agreement"] == pytest.approx(1 / 5) and s["matched_a"] == pytest.approx(1 / 3)
    assert s["iou_median"] == pytest.approx(90 / 110) and s["score_diff_max"] == pytest.approx(0.05, abs=1e-6)
    assert s["equal_counts"] == 1.0  # 3 = 3 boxes, and 0 = 0
    assert failures(s, parse_thresholds(["agreement=0.9,matched_a=0.2"])) == ["agreement 0.2000 < 0.9"]
    assert failures(s, {}, max_score_diff=0.01) == ["score_diff_max 0.0500 > 0.01"]
    with pytest.raises(fastdet.InputError, match="unknown figure"):
        parse_thresholds(["agreemnt=1"])
    with pytest.raises(fastdet.InputError, match="NAME=NUMBER"):
        parse_thresholds(["agreement=high"])


def test_compare_cli(tmp_path, capsys):
    data = two_images(tmp_path / "d")
    boxes = np.array([[16, 32, 16, 16], [48, 32, 8, 8]], np.float32)
    both = yolov8_like(tmp_path / "both.onnx", boxes, np.array([[0.9, 0.0], [0.0, 0.8]]), metadata={"names": repr(NAMES)})
    one = yolov8_like(tmp_path / "one.onnx", boxes, np.array([[0.9, 0.0], [0.0, 0.0]]), metadata={"names": repr(NAMES)})
    available = [b for b, why in fastdet.backends.availability().items() if not why and b.endswith("-cpu")]
    backends = (available * 2)[:2]
    assert main(["compare", str(both), *sum((["--backend", b] for b in backends), []), "--data", str(data),
                 "--fail-under", "agreement=1,equal_counts=1", "--max-score-diff", "0.001"]) == 0
    assert "agreement 1.0000" in capsys.readouterr().out
    assert main(["compare", str(both), str(one), "--data", str(data), "--json", "--fail-under", "matched_a=0.9"]) == 1
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["boxes_a"] == 4 and report["boxes_b"] == 2 and report["matched"] == 2
    assert report["failed"] == ["matched_a 0.5000 < 0.9"] and "FAILED: matched_a" in out.err
    assert main(["compare", str(both), "--data", str(data)]) == 2
    assert "two --backend" in capsys.readouterr().err


def grid_model(path, size=64, nc=2):
    """A YOLOv8-style head with its anchor grid baked in as constants (as a fixed-size export has):
    boxes at every cell centre, w = h = 2 strides, class scores mean(image) * weight."""
    points, strides = anchor_grid(size, size)
    n = strides.size
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, n])
    inits = [numpy_helper.from_array(points.reshape(1, 2, n), "points"),
             numpy_helper.from_array(strides.reshape(1, 1, n), "strides"),
             numpy_helper.from_array(np.array([1, 4, n], np.int64), "box_shape"),
             numpy_helper.from_array(np.full((1, nc, 1), 0.5, np.float32), "class_w"),
             numpy_helper.from_array(np.array([2.0], np.float32), "two")]
    nodes = [
        helper.make_node("Mul", ["points", "strides"], ["cxcy"]),
        helper.make_node("Mul", ["strides", "two"], ["side"]),
        helper.make_node("Concat", ["cxcy", "side", "side"], ["boxes4"], axis=1),
        helper.make_node("Reshape", ["boxes4", "box_shape"], ["boxes"]),
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Squeeze", ["m", "axis"], ["m3"]),
        helper.make_node("Div", ["strides", "strides"], ["ones"]),
        helper.make_node("Mul", ["m3", "class_w"], ["mw"]),
        helper.make_node("Mul", ["mw", "ones"], ["scores"]),
        helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1),
    ]
    inits.append(numpy_helper.from_array(np.array([3], np.int64), "axis"))
    return _save(helper.make_graph(nodes, "grid", [x], [y], inits), path, {"names": repr(NAMES), "imgsz": str([size, size])})


def test_resize_rewrites_the_grid(tmp_path):
    src = grid_model(tmp_path / "g64.onnx")
    dst = resize_onnx(src, tmp_path / "g128.onnx", (128, 96))
    x = np.ones((1, 3, 128, 96), np.float32)
    out = ort.InferenceSession(str(dst)).run(None, {"images": x})[0]
    points, strides = anchor_grid(128, 96)
    assert out.shape == (1, 6, strides.size)
    np.testing.assert_allclose(out[0, :2], points * strides)
    np.testing.assert_allclose(out[0, 4:], 0.5)
    assert fastdet.Detector(dst, backend="onnxruntime-cpu").input_size == (128, 96)
    with pytest.raises(fastdet.ModelError, match="no YOLOv8-style anchor grid"):
        resize_onnx(yolov8_like(tmp_path / "plain.onnx", np.zeros((3, 4), np.float32), np.ones((2, 3))),
                    tmp_path / "x.onnx", (128, 128))
    for bad in ("100", "0", "a,b", ""):
        with pytest.raises(fastdet.InputError):
            parse_sizes(bad)


def test_sizes_and_budget(tmp_path, capsys):
    data = two_images(tmp_path / "d")
    model = grid_model(tmp_path / "g64.onnx")
    available = [b for b, why in fastdet.backends.availability().items() if not why and b.endswith("-cpu")]
    assert main(["eval", str(model), str(data), "--sizes", "64,128", "--backends", ",".join(available),
                 "--budget-ms", "10000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["size"], r["backend"]) for r in out["rows"]] == [(s, b) for s in (64, 128) for b in available]
    assert out["best"] is not None and out["best"]["map50_95"] == max(r["map50_95"] for r in out["rows"])
    assert main(["eval", str(model), str(data), "--sizes", "64", "--budget-ms", "0.000001"]) == 0
    assert "no configuration fits" in capsys.readouterr().out
    assert main(["eval", str(model), str(data), "--budget-ms", "5"]) == 2


@pytest.mark.assets
def test_real_model_resized(assets, tmp_path):
    src = assets / "models" / "yolov8n_w8.onnx"
    same = resize_onnx(src, tmp_path / "640.onnx", (640, 640))
    x = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
    a = ort.InferenceSession(str(src)).run(None, {"images": x})[0]
    b = ort.InferenceSession(str(same)).run(None, {"images": x})[0]
    np.testing.assert_array_equal(a, b)
    small = resize_onnx(src, tmp_path / "320.onnx", (320, 320))
    det = fastdet.Detector(small, backend="onnxruntime-cpu")
    people = det.detect(assets / "images" / "bus.jpg", classes="person")
    assert len(people) >= 3  # bus.jpg has 4 people; a broken grid would put the boxes anywhere
    full = fastdet.Detector(src, backend="onnxruntime-cpu").detect(assets / "images" / "bus.jpg", classes="person")
    from fastdet.quality.compare import box_iou

    assert (box_iou(people.xyxy, full.xyxy).max(axis=1) > 0.7).sum() >= 3
