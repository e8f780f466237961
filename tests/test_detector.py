"""Detector end to end on tiny ONNX models built in the test."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import fastdet
from fastdet import _core
from tiny_models import end2end_like, yolov8_like

pytestmark = pytest.mark.usefixtures("cpu_backend")

NAMES = "{0: 'person', 1: 'bicycle', 2: 'car'}"
# Boxes in 64x64 input pixels (cx, cy, w, h): two overlapping, one apart, then silent anchors.
BOXES = np.array([[20, 20, 16, 16], [21, 20, 16, 16], [48, 48, 10, 20]] + [[32, 32, 8, 8]] * 13, np.float32)
WEIGHTS = np.zeros((3, 16), np.float32)
WEIGHTS[0, :2] = [0.9, 0.8]  # person: boxes 0 and 1 overlap -> NMS keeps 0
WEIGHTS[2, 2] = 0.7  # car: box 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return yolov8_like(tmp_path_factory.mktemp("m") / "tiny.onnx", BOXES, WEIGHTS,
                       metadata={"names": NAMES, "imgsz": "[64, 64]", "stride": "32", "task": "detect"})


def white(h, w):
    return np.full((h, w, 3), 255, np.uint8)


def test_detects_and_maps_back_to_original_pixels(tiny, cpu_backend):
    det = fastdet.Detector(tiny)
    assert det.backend == cpu_backend
    assert det.names == {0: "person", 1: "bicycle", 2: "car"}
    assert det.input_size == (64, 64)
    frame = white(128, 256)  # 2:1 -> 64x32 inside 64x64, pad 16 rows top
    dets = det.detect(frame)
    assert len(dets) == 2
    assert [b.name for b in dets] == ["person", "car"]
    g = _core.make_geometry(128, 256, 64, 64)
    x1 = (20 - 8 - g.pad_x) / g.gain_x
    y1 = (20 - 8 - g.pad_y) / g.gain_y
    expected = np.clip([x1, y1, x1 + 16 / g.gain_x, y1 + 16 / g.gain_y], 0, [256, 128, 256, 128])
    assert expected[1] == 0  # the box reaches into the top padding: clipped to the image
    np.testing.assert_allclose(dets.xyxy[0], expected, rtol=1e-5)
    # The tiny model scores by the input's mean, padding included.
    assert dets.scores[0] == pytest.approx(0.9 * fastdet.letterbox(frame, 64)[0].mean(), rel=1e-5)
    assert dets.xyxy.dtype == np.float32 and dets.class_ids.dtype == np.int32
    assert det.timings["inference"] > 0


def test_black_frame_gives_nothing(tiny):
    dets = fastdet.Detector(tiny).detect(np.zeros((100, 100, 3), np.uint8))
    assert len(dets) == 0 and "0 boxes" in repr(dets)


def test_options_conf_classes_agnostic_max_det(tiny):
    frame = white(64, 64)
    assert len(fastdet.Detector(tiny, conf=0.75).detect(frame)) == 1
    assert [b.name for b in fastdet.Detector(tiny, classes=["car"]).detect(frame)] == ["car"]
    assert [b.class_id for b in fastdet.Detector(tiny, classes=[0]).detect(frame)] == [0]
    assert len(fastdet.Detector(tiny, max_det=1).detect(frame)) == 1
    assert len(fastdet.Detector(tiny, iou=0.95).detect(frame)) == 3
    with pytest.raises(ValueError, match="unknown class name"):
        fastdet.Detector(tiny, classes=["zebra"])
    with pytest.raises(ValueError, match="classes: expected ids"):
        fastdet.Detector(tiny, classes=[7])
    with pytest.raises(ValueError, match="conf"):
        fastdet.Detector(tiny, conf=1.5)


def test_batch_matches_single_frames(tiny):
    det = fastdet.Detector(tiny)
    rng = np.random.default_rng(0)
    frames = [white(64, 64), np.zeros((30, 90, 3), np.uint8), rng.integers(100, 256, (200, 120, 3), np.uint8)]
    batch = det.detect(frames)
    assert isinstance(batch, list) and len(batch) == 3
    for f, b in zip(frames, batch):
        single = det.detect(f)
        np.testing.assert_array_equal(single.xyxy, b.xyxy)
        np.testing.assert_array_equal(single.scores, b.scores)


def test_static_batch_model_loops(tmp_path):
    path = yolov8_like(tmp_path / "static.onnx", BOXES, WEIGHTS, dynamic_batch=False)
    det = fastdet.Detector(path)
    res = det.detect([white(64, 64), white(32, 32)])
    assert [len(r) for r in res] == [2, 2]
    assert det.names == {0: "0", 1: "1", 2: "2"}  # no metadata: numbered names


def test_results_api(tiny):
    dets = fastdet.Detector(tiny).detect(white(64, 64))
    rows = dets.to_list()
    assert rows[0]["name"] == "person" and len(rows[0]["box"]) == 4
    assert isinstance(rows[0]["score"], float)
    assert dets[1].name == "car"
    assert "person" in repr(dets)
    assert [b.class_id for b in dets] == [0, 2]


def test_detect_function_caches_a_detector(tiny, monkeypatch):
    a = fastdet.detect(white(64, 64), model=tiny)
    b = fastdet.detect(white(64, 64), model=str(tiny))
    assert len(a) == len(b) == 2
    monkeypatch.setenv("FASTDET_MODEL", str(tiny))
    assert len(fastdet.detect(white(64, 64), conf=0.75)) == 1
    monkeypatch.setenv("FASTDET_MODEL", str(tiny.parent / "missing.onnx"))
    with pytest.raises(fastdet.ModelError, match="missing.onnx.*yolo export"):
        fastdet.detect(white(64, 64))


def test_image_path_input(tiny, tmp_path):
    import cv2

    path = tmp_path / "white.png"
    cv2.imwrite(str(path), white(80, 160))
    dets = fastdet.Detector(tiny).detect(path)
    assert dets.image_shape == (80, 160) and len(dets) == 2


def test_end2end_model(tmp_path):
    rows = np.array([[10, 10, 30, 30, 0.9, 2], [12, 12, 30, 30, 0.8, 2], [40, 40, 60, 60, 0.1, 0]], np.float32)
    path = end2end_like(tmp_path / "e2e.onnx", rows, metadata={"names": NAMES})
    det = fastdet.Detector(path)
    assert det.info.format == "end2end"
    dets = det.detect(white(64, 64))
    # No NMS for end-to-end heads: the overlapping pair both stay; the low score is dropped.
    assert len(dets) == 2 and list(dets.class_ids) == [2, 2]
    np.testing.assert_allclose(dets.xyxy[0], [10, 10, 30, 30], atol=1e-4)


def test_candidate_cap_warns_once(tmp_path, caplog):
    n = 50
    boxes = np.column_stack([np.arange(n) * 1.2 + 4, np.full(n, 20), np.full(n, 2), np.full(n, 2)]).astype(np.float32)
    path = yolov8_like(tmp_path / "many.onnx", boxes, np.full((1, n), 0.9, np.float32))
    det = fastdet.Detector(path, max_candidates=10)
    with caplog.at_level(logging.WARNING, logger="fastdet"):
        dets = det.detect(white(64, 64))
        det.detect(white(64, 64))
    assert dets.candidates == n and dets.dropped == n - 10 and len(dets) == 10
    assert sum("max_candidates" in r.message for r in caplog.records) == 1


def test_recipe_override(tiny):
    det = fastdet.Detector(tiny, recipe="yolox")
    assert det.info.recipe.scale == 1.0
    # YOLOX's recipe feeds 0-255 values: the tiny model's scores scale with the input.
    assert det.detect(white(64, 64)).scores[0] == pytest.approx(0.9 * 255, rel=1e-5)


def test_per_call_options_override_the_detectors_for_that_call(tiny):
    frame = white(64, 64)
    det = fastdet.Detector(tiny)
    assert len(det.detect(frame, conf=0.75)) == 1
    assert len(det.detect(frame)) == 2  # the Detector's own options are back
    assert [b.name for b in det.detect(frame, classes="car")] == ["car"]
    assert [b.name for b in det.detect(frame, classes=2)] == ["car"]
    assert [b.name for b in det.detect(frame, classes=["person", 2])] == ["person", "car"]
    assert len(det.detect(frame, max_det=1)) == 1
    assert len(det.detect(frame, iou=0.95)) == 3
    assert len(det.detect(frame, iou=0.95, agnostic=True)) == 3
    assert [len(d) for d in det.detect([frame, frame], conf=0.75)] == [1, 1]
    only_person = fastdet.Detector(tiny, classes="person")
    assert [b.name for b in only_person.detect(frame)] == ["person"]
    assert [b.name for b in only_person.detect(frame, classes="car")] == ["car"]


def test_agnostic_per_call(tmp_path):
    # Two classes on one box: class-aware NMS keeps both, agnostic keeps the better one.
    boxes = np.array([[20, 20, 16, 16]] * 16, np.float32)
    weights = np.zeros((2, 16), np.float32)
    weights[0, 0], weights[1, 1] = 0.9, 0.8
    det = fastdet.Detector(yolov8_like(tmp_path / "two.onnx", boxes, weights))
    assert len(det.detect(white(64, 64))) == 2
    assert len(det.detect(white(64, 64), agnostic=True)) == 1
    assert len(fastdet.Detector(det.info.path, agnostic=True).detect(white(64, 64), agnostic=False)) == 2


def test_bad_per_call_options_are_named(tiny):
    det = fastdet.Detector(tiny)
    frame = white(64, 64)
    for kwargs, error, match in (
        ({"conf": "high"}, TypeError, "conf"), ({"conf": 1.5}, ValueError, "conf"),
        ({"iou": -0.1}, ValueError, "iou"), ({"max_det": 2.5}, TypeError, "max_det"),
        ({"max_det": 0}, ValueError, "max_det"), ({"agnostic": "yes"}, TypeError, "agnostic"),
        ({"classes": "zebra"}, ValueError, "unknown class name"), ({"classes": [7]}, ValueError, "classes"),
        ({"classes": 1.5}, TypeError, "classes"), ({"classes": [None]}, TypeError, "classes"),
    ):
        with pytest.raises(error, match=match):
            det.detect(frame, **kwargs)
    assert len(det.detect(frame)) == 2


def test_detect_function_reuses_its_detector_for_per_call_options(tiny):
    from fastdet import detector

    frame = white(64, 64)
    assert len(fastdet.detect(frame, model=tiny)) == 2
    cached = len(detector._DEFAULTS)
    assert len(fastdet.detect(frame, model=tiny, conf=0.75)) == 1
    assert [b.name for b in fastdet.detect(frame, model=tiny, classes="car", iou=0.9)] == ["car"]
    assert len(fastdet.detect(frame, model=tiny)) == 2
    assert len(detector._DEFAULTS) == cached
    fastdet.detect(frame, model=tiny, max_candidates=10)  # a Detector option: a Detector of its own
    assert len(detector._DEFAULTS) == cached + 1
