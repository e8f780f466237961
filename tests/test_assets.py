"""Real models and photos from ../shared/assets (skipped when absent)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastdet
from references import reference_decode, reference_letterbox

pytestmark = [pytest.mark.assets, pytest.mark.usefixtures("cpu_backend")]


def _iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_yolov8n_finds_people_and_bus(assets, bus_jpg):
    det = fastdet.Detector(assets / "models" / "yolov8n_w8.onnx")
    dets = det.detect(cv2.imread(str(bus_jpg)))
    names = [b.name for b in dets]
    assert names.count("person") >= 4 and "bus" in names
    bus = dets[names.index("bus")]
    # The bus spans nearly the whole width of the 810x1080 photo.
    assert bus.x1 < 60 and bus.x2 > 760 and 200 < bus.y1 < 260 and 740 < bus.y2 < 800
    assert dets.image_shape == (1080, 810)


def test_yolov8n_matches_an_independent_onnxruntime_pipeline(assets, bus_jpg, cpu_backend):
    """Same model through plain onnxruntime + OpenCV letterbox + numpy decode/NMS. The input
    tensor is the same (the letterbox is bit-exact): on ONNX Runtime only session options differ
    (scores within 1e-5); OpenVINO at precision="fp32" has its own kernels (within 2e-4)."""
    import onnxruntime as ort

    path = assets / "models" / "yolov8n_w8.onnx"
    img = cv2.imread(str(bus_jpg))
    x = reference_letterbox(img, 640, 640)[None]
    raw = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    _, g = fastdet.letterbox(img, 640)
    rb, rs, rc, _, _ = reference_decode(raw[0], "yolov8", g)
    openvino = cpu_backend == "openvino-cpu"
    dets = fastdet.Detector(path, **({"precision": "fp32"} if openvino else {})).detect(img)
    assert len(dets) == len(rs)
    np.testing.assert_array_equal(dets.class_ids, rc)
    np.testing.assert_allclose(dets.scores, rs, atol=2e-4 if openvino else 1e-5)
    for a, b in zip(dets.xyxy, rb):
        assert _iou(a, b) > 0.98


def test_yolox_nano_with_its_own_recipe(assets, bus_jpg):
    det = fastdet.Detector(assets / "models" / "yolox_nano.onnx")
    assert det.info.format == "yolox" and det.input_size == (416, 416)
    assert det.info.recipe.scale == 1.0 and not det.info.recipe.output_rgb
    dets = det.detect(bus_jpg)
    people = [b for b in dets if b.class_id == 0]
    assert len(people) >= 3
    assert any(b.class_id == 5 for b in dets)  # the bus


@pytest.mark.parametrize("model", ["yolov8n_int8.onnx", "yolo11n_int8_320.onnx"])
def test_int8_models_with_metadata(assets, bus_jpg, model):
    det = fastdet.Detector(assets / "models" / model)
    assert det.names[0] == "person"
    dets = det.detect(bus_jpg)
    assert sum(b.name == "person" for b in dets) >= 3


def test_dynamic_model_runs_one_batch(assets, bus_jpg):
    det = fastdet.Detector(assets / "models" / "yolov8n_random_dynamic.onnx")
    assert det.info.dynamic_batch
    img = cv2.imread(str(bus_jpg))
    res = det.detect([img, img[:, ::-1].copy(), img[:500]])
    assert len(res) == 3


def test_zidane(assets):
    dets = fastdet.detect(assets / "images" / "zidane.jpg", model=assets / "models" / "yolov8n_w8.onnx")
    assert sum(b.name == "person" for b in dets) >= 2
