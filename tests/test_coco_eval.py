"""The COCO evaluator: COCO metrics from pycocotools on known cases, a Detector end to end (tiny
model), and the real yolov8n on coco128 against pycocotools run independently and against
ultralytics' published figures."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from fastdet.quality import coco_eval, data_source, yolo_data
from tiny_datasets import NAMES, two_images
from tiny_models import yolov8_like

pytest.importorskip("pycocotools", reason="the evaluator needs pycocotools (pip install 'fastdet[quality]')")


@pytest.fixture()
def dataset(tmp_path):
    return two_images(tmp_path / "data")


def test_listing_and_labels(dataset, tmp_path):
    images = yolo_data.list_images(dataset)
    assert [p.name for p in images] == ["a.png", "b.png"]
    assert yolo_data.label_path(images[0]) == dataset / "labels" / "a.txt"
    gt = yolo_data.read_dataset(dataset, NAMES)
    np.testing.assert_allclose(gt.images[0].boxes[1], [0.6875, 0.375, 0.8125, 0.625])
    assert gt.images[0].classes.tolist() == [0, 1] and len(gt.images[1].classes) == 0
    assert gt.issues.counts == {"missing_labels": 1}
    assert gt.category_ids == {0: 1, 1: 2}
    split = dataset / "val.txt"
    split.write_text("images/b.png\n# a comment\n\n")
    assert yolo_data.list_images(split) == [dataset / "images" / "b.png"]
    split.write_text("images/missing.png\n")
    with pytest.raises(FileNotFoundError, match="line 1: no such image"):
        yolo_data.list_images(split)
    with pytest.raises(FileNotFoundError, match="folder of images or a split file"):
        yolo_data.list_images(tmp_path / "nowhere")


def _rows(gt, shift=0.0, score=0.9):
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "score": score,
             "bbox": [a["bbox"][0] + shift, a["bbox"][1], a["bbox"][2], a["bbox"][3]]} for a in gt["annotations"]]


def test_known_scores(dataset):
    gt = yolo_data.read_dataset(dataset, NAMES).to_coco([(64, 128)] * 2)
    assert gt["annotations"][0]["bbox"] == pytest.approx([16, 16, 32, 32])
    assert gt["annotations"][0]["category_id"] == 1  # class 0 -> COCO category 1
    perfect = coco_eval.score(gt, _rows(gt))
    assert perfect.map50_95 == pytest.approx(1.0) and perfect.map50 == pytest.approx(1.0)
    assert perfect.per_class == pytest.approx({1: 1.0, 2: 1.0}) and perfect.boxes == 2
    # Shifting the person box by 9 px (IoU 23*32 / (41*32) = 0.56): a hit at IoU 0.5 and 0.55 only.
    shifted = _rows(gt)
    shifted[0]["bbox"][0] += 9
    m = coco_eval.score(gt, shifted, class_of=lambda c: c - 1)
    assert m.ap(0) == pytest.approx(0.2) and m.ap(1) == pytest.approx(1.0)
    assert m.per_class_ap50 == pytest.approx({0: 1.0, 1: 1.0})
    assert m.map50 == pytest.approx(1.0) and m.map50_95 == pytest.approx(0.6)
    # A missed box: the car's AP is 0.
    only_person = [r for r in _rows(gt) if r["category_id"] == 1]
    assert coco_eval.score(gt, only_person).per_class == pytest.approx({1: 1.0, 2: 0.0})
    assert coco_eval.score(gt, []).map50_95 == 0.0


def test_max_dets_is_what_cocoeval_scores(dataset):
    """With 3 false positives scoring above the true one, maxDets 3 leaves the hit out, maxDets 4 keeps it."""
    gt = yolo_data.read_dataset(dataset, NAMES).to_coco([(64, 128)] * 2)
    person = gt["annotations"][0]
    rows = [{"image_id": 0, "category_id": 1, "score": 0.9 - i * 0.1, "bbox": [100, 40 + i, 5, 5]} for i in range(3)]
    rows.append({"image_id": 0, "category_id": 1, "score": 0.5, "bbox": person["bbox"]})
    assert coco_eval.score(gt, rows, max_dets=3).per_class[1] == 0.0
    assert coco_eval.score(gt, rows, max_dets=4).per_class[1] > 0.2
    with pytest.raises(fastdet.InputError, match="max_dets"):
        coco_eval.score(gt, rows, max_dets=0)


def _tiny_model(tmp_path):
    # The tiny model's boxes (input pixels of its 64x64 input) are the labels of image a: the
    # 64x128 image is letterboxed to 64x32 with 16 rows of padding on top.
    boxes = np.array([[16, 32, 16, 16], [48, 32, 8, 8]], np.float32)
    weights = np.array([[0.9, 0.0], [0.0, 0.8]], np.float32)
    return yolov8_like(tmp_path / "m.onnx", boxes, weights, metadata={"names": repr(NAMES)})


@pytest.mark.usefixtures("cpu_backend")
def test_detector_end_to_end(dataset, tmp_path, capsys):
    model = _tiny_model(tmp_path)
    det = fastdet.Detector(model, **coco_eval.EVAL_OPTIONS)
    gt = data_source.read_ground_truth(dataset, det.names)
    m, preds = coco_eval.evaluate(det, gt)
    # Image b has no labels: its two detections are false positives, scored above a's true
    # positives (the tiny model scores by brightness), so precision is 1/2 at every recall point.
    assert m.images == 2 and m.boxes == 2 and len(preds.latency_ms) == 2
    assert m.per_class == pytest.approx({0: 0.5, 1: 0.5}, abs=0.01)
    assert main(["eval", str(model), str(dataset), "--json", "--plot", str(tmp_path / "plots"),
                 "--save-coco", str(tmp_path / "coco")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["person_ap50_95"] == pytest.approx(0.5, abs=0.01)
    assert report["data"]["issues"] == {"missing_labels": 1} and report["data"]["images"] == 2
    assert report["settings"] == {"conf": 0.001, "iou": 0.7, "max_det": 300, "coco_max_dets": 100}
    assert report["backend"]["precision"] in ("fp32", "bf16", "f16")
    assert len(report["model"]["sha256"]) == 64 and len(report["data"]["sha256"]) == 64
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"pr_person.png", "ap_per_class.png"}
    assert (tmp_path / "plots" / "pr_person.png").read_bytes()[:4] == b"\x89PNG"
    rescored = _pycocotools(tmp_path / "coco")
    assert rescored[0] == pytest.approx(report["metrics"]["map50_95"], abs=1e-12)
    assert main(["eval", str(model), str(dataset)]) == 0
    table = capsys.readouterr().out
    assert "person AP50-95  0.50" in table and "1 missing_labels" in table


def _pycocotools(folder):
    """COCOeval's stats on files, with nothing of fastdet in between."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(folder / "ground_truth.json"))
        ev = COCOeval(gt, gt.loadRes(str(folder / "predictions.json")), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _ultralytics_style_ground_truth(data, shapes):
    """The conversion behind ultralytics' figures, written out independently: category_id =
    class + 1, bbox in pixels from the image size, area = w*h, iscrowd 0."""
    images, anns = [], []
    for i, (path, (h, w)) in enumerate(zip(sorted((data / "images").iterdir()), shapes)):
        images.append({"id": i, "file_name": path.name, "height": h, "width": w})
        label = data / "labels" / (path.stem + ".txt")
        for line in label.read_text().splitlines() if label.exists() else []:
            c, cx, cy, bw, bh = map(float, line.split())
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c) + 1, "iscrowd": 0,
                         "bbox": [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h], "area": bw * w * bh * h})
    return {"images": images, "annotations": anns, "categories": [{"id": k + 1, "name": str(k)} for k in range(80)]}


@pytest.mark.assets
def test_yolov8n_on_coco128_equals_pycocotools_and_ultralytics(assets, tmp_path, capsys):
    data = assets / "datasets" / "coco128_val2017"
    model = assets / "models" / "yolov8n_w8.onnx"
    assert main(["eval", str(model), str(data), "--backend", "onnxruntime-cpu", "--json",
                 "--save-coco", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    m = report["metrics"]
    # pycocotools on fastdet's predictions and an independently converted ground truth.
    preds = json.loads((tmp_path / "predictions.json").read_text())
    shapes = [(im["height"], im["width"]) for im in json.loads((tmp_path / "ground_truth.json").read_text())["images"]]
    (tmp_path / "ground_truth.json").write_text(json.dumps(_ultralytics_style_ground_truth(data, shapes)))
    stats = _pycocotools(tmp_path)
    assert m["map50_95"] == pytest.approx(stats[0], abs=1e-12) and m["map50"] == pytest.approx(stats[1], abs=1e-12)
    (tmp_path / "predictions.json").write_text(json.dumps([p for p in preds if p["category_id"] == 1]))
    gt = json.loads((tmp_path / "ground_truth.json").read_text())
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] == 1]
    (tmp_path / "ground_truth.json").write_text(json.dumps(gt))
    person = _pycocotools(tmp_path)
    assert m["person_ap50_95"] == pytest.approx(person[0], abs=1e-12)
    assert m["person_ap50"] == pytest.approx(person[1], abs=1e-12)
    # ultralytics' figures for this file (predict + pycocotools at the same settings).
    assert m["map50_95"] == pytest.approx(0.4157, abs=0.005)
    assert m["person_ap50"] == pytest.approx(0.754, abs=0.005)
    assert report["data"]["images"] == 128 and report["data"]["issues"] == {}
