"""The COCO evaluator: YOLO-format data, COCO metrics from pycocotools on known cases, and a
Detector end to end (tiny model; the real yolov8n on coco128 where the assets are present)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastdet
from fastdet.quality import coco_eval, yolo_data
from tiny_models import yolov8_like

pytest.importorskip("pycocotools", reason="the evaluator needs pycocotools (pip install 'fastdet[quality]')")

NAMES = {0: "person", 1: "car"}


@pytest.fixture()
def dataset(tmp_path):
    """Two 64x128 images in images/ (a grey, b white), labels in labels/ (b has no label file)."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for name, value in (("a", 200), ("b", 255)):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"), np.full((64, 128, 3), value, np.uint8))
    (tmp_path / "labels" / "a.txt").write_text("0 0.25 0.5 0.25 0.5\n1 0.75 0.5 0.125 0.25\n")
    return tmp_path


def test_listing_and_labels(dataset, tmp_path):
    images = yolo_data.list_images(dataset)
    assert [p.name for p in images] == ["a.png", "b.png"]
    assert yolo_data.label_path(images[0]) == dataset / "labels" / "a.txt"
    np.testing.assert_allclose(yolo_data.read_labels(images[0])[1], [1, 0.75, 0.5, 0.125, 0.25])
    assert yolo_data.read_labels(images[1]).shape == (0, 5)
    split = dataset / "val.txt"
    split.write_text("images/b.png\n# a comment\n\n")
    assert yolo_data.list_images(split) == [dataset / "images" / "b.png"]
    split.write_text("images/missing.png\n")
    with pytest.raises(FileNotFoundError, match="line 1: no such image"):
        yolo_data.list_images(split)
    (dataset / "labels" / "b.txt").write_text("0 0.5 0.5 0.1\n")
    with pytest.raises(ValueError, match="line 1: expected 5 numbers"):
        yolo_data.read_labels(images[1])
    with pytest.raises(FileNotFoundError, match="folder of images or a split file"):
        yolo_data.list_images(tmp_path / "nowhere")


def _rows(gt, shift=0.0, score=0.9):
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "score": score,
             "bbox": [a["bbox"][0] + shift, a["bbox"][1], a["bbox"][2], a["bbox"][3]]} for a in gt["annotations"]]


def test_known_scores(dataset):
    images = yolo_data.list_images(dataset)
    gt = coco_eval.ground_truth(images, [(64, 128)] * 2, NAMES)
    assert gt["annotations"][0]["bbox"] == pytest.approx([16, 16, 32, 32])
    perfect = coco_eval.score(gt, _rows(gt))
    assert perfect.map50_95 == pytest.approx(1.0) and perfect.map50 == pytest.approx(1.0)
    assert perfect.per_class == pytest.approx({0: 1.0, 1: 1.0}) and perfect.boxes == 2
    # Shifting the person box by 9 px (IoU 23*32 / (41*32) = 0.56): a hit at IoU 0.5 and 0.55 only.
    shifted = _rows(gt)
    shifted[0]["bbox"][0] += 9
    m = coco_eval.score(gt, shifted)
    assert m.ap(0) == pytest.approx(0.2) and m.ap(1) == pytest.approx(1.0)
    assert m.map50 == pytest.approx(1.0) and m.map50_95 == pytest.approx(0.6)
    # A missed box: the car's AP is 0; an extra low-scoring false positive lowers nothing here.
    only_person = [r for r in _rows(gt) if r["category_id"] == 0]
    assert coco_eval.score(gt, only_person).per_class == pytest.approx({0: 1.0, 1: 0.0})
    assert coco_eval.score(gt, []).map50_95 == 0.0


def test_labels_outside_the_models_classes(dataset):
    (dataset / "labels" / "b.txt").write_text("7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(ValueError, match="class 7 is not one of the model's 2 classes"):
        coco_eval.ground_truth(yolo_data.list_images(dataset), [(64, 128)] * 2, NAMES)


@pytest.mark.usefixtures("cpu_backend")
def test_detector_end_to_end(dataset, tmp_path):
    # The tiny model's boxes (input pixels of its 64x64 input) are the labels of image a: the
    # 64x128 image is letterboxed to 64x32 with 16 rows of padding on top.
    boxes = np.array([[16, 32, 16, 16], [48, 32, 8, 8]], np.float32)
    weights = np.array([[0.9, 0.0], [0.0, 0.8]], np.float32)
    model = yolov8_like(tmp_path / "m.onnx", boxes, weights, metadata={"names": repr(NAMES)})
    det = fastdet.Detector(model, **coco_eval.EVAL_OPTIONS)
    m = coco_eval.evaluate(det, dataset)
    # Image b has no labels: its two detections are false positives, scored above a's true
    # positives (the tiny model scores by brightness), so precision is 1/2 at every recall point.
    assert m.images == 2 and m.boxes == 2
    assert m.per_class == pytest.approx({0: 0.5, 1: 0.5}, abs=0.01)
    assert coco_eval.main([str(model), "--data", str(dataset), "--json"]) == 0


@pytest.mark.assets
def test_yolov8n_on_coco128(assets):
    data = assets / "datasets" / "coco128_val2017"
    det = fastdet.Detector(assets / "models" / "yolov8n_w8.onnx", backend="onnxruntime-cpu", **coco_eval.EVAL_OPTIONS)
    m = coco_eval.evaluate(det, data, limit=32)
    # yolov8n's published COCO mAP50-95 is 0.373; these easy images score a little higher.
    assert 0.3 < m.map50_95 < 0.6 and m.ap(0) > 0.4 and m.images == 32
