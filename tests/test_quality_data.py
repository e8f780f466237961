"""Bad data gets clear errors or counted warnings: missing labels, malformed lines, boxes outside the
image, class ids out of range, empty datasets, duplicate images, unreadable images; and COCO JSON
ground truth (categories matched by name, crowd regions, sizes)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from fastdet.quality import coco_eval, coco_json, data_source, yolo_data
from fastdet.quality.data_issues import DataIssues
from tiny_datasets import NAMES, two_images, write_image, write_labels
from tiny_models import yolov8_like


def test_every_kind_of_bad_yolo_row_is_counted_and_skipped(tmp_path, caplog):
    write_image(tmp_path, "a.png", np.full((10, 20, 3), 100, np.uint8))
    write_image(tmp_path, "b.png", np.full((10, 20, 3), 120, np.uint8))
    write_image(tmp_path, "copy_of_a.png", np.full((10, 20, 3), 100, np.uint8))
    (tmp_path / "images" / "broken.png").write_bytes(b"not an image")
    write_labels(tmp_path, "a", [
        "0 0.5 0.5 0.2 0.2",          # fine
        "0 0.5 0.5 0.2",              # 4 fields
        "zero 0.5 0.5 0.2 0.2",       # not a number
        "1 nan 0.5 0.2 0.2",          # NaN
        "7 0.5 0.5 0.2 0.2",          # class out of range
        "-1 0.5 0.5 0.2 0.2",         # negative class
        "0.5 0.5 0.5 0.2 0.2",        # fractional class
        "1 0.95 0.5 0.2 0.2",         # reaches past the right edge: clipped
        "1 1.5 0.5 0.2 0.2",          # entirely outside: skipped
        "1 0.5 0.5 0 0.2",            # zero width
        "",                           # blank lines are fine
    ])
    with caplog.at_level(logging.WARNING, logger="fastdet"):
        gt = yolo_data.read_dataset(tmp_path, NAMES)
        gt.issues.report(False, "tiny")
    assert gt.issues.as_dict() == {"box_outside_image": 1, "class_out_of_range": 3, "duplicate_image": 1,
                                   "empty_box": 2, "malformed_line": 3, "missing_labels": 2}
    a = gt.images[0]
    assert a.classes.tolist() == [0, 1]
    np.testing.assert_allclose(a.boxes[1], [0.85, 0.4, 1.0, 0.6])
    assert [i.path.name for i in gt.images] == ["a.png", "b.png", "broken.png"]
    assert "a.txt:2" in gt.issues.examples["malformed_line"][0]
    assert "copy_of_a.png = a.png" in gt.issues.examples["duplicate_image"][0]
    assert any("3 x label with a class id the model does not have" in r.message for r in caplog.records)
    with pytest.raises(fastdet.InputError, match="problems \\(strict mode\\)"):
        gt.issues.report(True, "tiny")
    # The undecodable image is found when the detector reads it: counted, left out of the score.
    model = yolov8_like(tmp_path / "m.onnx", np.array([[32, 32, 8, 8]], np.float32), np.array([[0.9], [0.0]]),
                        metadata={"names": repr(NAMES)})
    det = fastdet.Detector(model, backend="onnxruntime-cpu", **coco_eval.EVAL_OPTIONS)
    m, _ = coco_eval.evaluate(det, gt)
    assert m.images == 2 and gt.issues.counts["unreadable_image"] == 1


def test_empty_dataset_and_missing_data_are_errors(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(ValueError, match="no images"):
        yolo_data.read_dataset(tmp_path, NAMES)
    with pytest.raises(fastdet.InputError, match="no such COCO JSON file"):
        data_source.read_ground_truth(tmp_path / "a.json", NAMES)
    with pytest.raises(fastdet.InputError, match="only a dataset YAML has named splits"):
        data_source.read_ground_truth(tmp_path, NAMES, split="val")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\n")
    with pytest.raises(fastdet.InputError, match="names no 'val' split"):
        data_source.read_ground_truth(tmp_path / "data.yaml", NAMES)
    assert main(["eval", str(tmp_path / "m.onnx"), str(tmp_path)]) == 2


def test_cli_strict_and_warnings(tmp_path, capsys):
    data = two_images(tmp_path / "d")
    write_labels(data, "b", ["9 0.5 0.5 0.1 0.1"])
    model = yolov8_like(tmp_path / "m.onnx", np.array([[32, 32, 8, 8]], np.float32), np.array([[0.9], [0.0]]),
                        metadata={"names": repr(NAMES)})
    assert main(["eval", str(model), str(data), "--backend", "onnxruntime-cpu", "--strict"]) == 2
    assert "class id the model does not have (label skipped): b.txt:1 (class 9)" in capsys.readouterr().err
    assert main(["eval", str(model), str(data), "--backend", "onnxruntime-cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["issues"] == {"class_out_of_range": 1}


def _coco_file(tmp_path):
    write_image(tmp_path, "a.png", np.full((64, 128, 3), 200, np.uint8))
    write_image(tmp_path, "b.png", np.full((64, 128, 3), 255, np.uint8))
    data = {
        "images": [{"id": 7, "file_name": "a.png", "height": 64, "width": 128},
                   {"id": 8, "file_name": "b.png", "height": 32, "width": 64},     # wrong size stated
                   {"id": 9, "file_name": "gone.png", "height": 64, "width": 128}],
        "categories": [{"id": 3, "name": "car"}, {"id": 5, "name": "person"}, {"id": 6, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 5, "bbox": [16, 16, 32, 32], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [88, 24, 16, 16]},
            {"id": 3, "image_id": 7, "category_id": 6, "bbox": [0, 0, 5, 5]},          # not a model class
            {"id": 4, "image_id": 7, "category_id": 5, "bbox": [120, 0, 20, 10]},      # past the right edge
            {"id": 5, "image_id": 7, "category_id": 5, "bbox": [1, 2, 3]},             # malformed
            {"id": 6, "image_id": 8, "category_id": 5, "bbox": [0, 0, 64, 32], "iscrowd": 1},
        ],
    }
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_json(tmp_path):
    gt = coco_json.read_dataset(_coco_file(tmp_path), NAMES)
    assert gt.source == "coco-json" and [i.path.name for i in gt.images] == ["a.png", "b.png"]
    assert gt.category_ids == {0: 5, 1: 3}
    assert gt.issues.as_dict() == {"box_outside_image": 1, "malformed_line": 1, "missing_image": 1,
                                   "unknown_category": 1}
    a, b = gt.images
    assert a.classes.tolist() == [0, 1, 0] and a.units == "pixels"
    np.testing.assert_allclose(a.boxes[2], [120, 0, 128, 10])
    assert b.iscrowd.tolist() == [True]
    np.testing.assert_allclose(b.pixel_boxes((64, 128))[0], [0, 0, 128, 64])  # scaled to the decoded size
    coco = gt.to_coco([(64, 128), (64, 128)])
    assert [a["category_id"] for a in coco["annotations"]] == [5, 3, 5, 5]
    assert coco["annotations"][3]["iscrowd"] == 1
    with pytest.raises(fastdet.InputError, match="no category"):
        coco_json.read_dataset(_coco_file(tmp_path), {0: "zebra"})
    (tmp_path / "bad.json").write_text("{\"images\": 3}")
    with pytest.raises(fastdet.InputError, match="not COCO JSON"):
        coco_json.read_dataset(tmp_path / "bad.json", NAMES)


@pytest.mark.usefixtures("cpu_backend")
def test_eval_on_coco_json_matches_yolo_labels(tmp_path, capsys):
    """The same boxes as YOLO labels and as COCO JSON give the same metrics."""
    yolo = two_images(tmp_path / "yolo")
    data = {"images": [{"id": 1, "file_name": "a.png", "height": 64, "width": 128},
                       {"id": 2, "file_name": "b.png", "height": 64, "width": 128}],
            "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [16, 16, 32, 32]},
                            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [88, 24, 16, 16]}]}
    (yolo / "coco.json").write_text(json.dumps(data))
    boxes = np.array([[16, 32, 16, 16], [48, 32, 8, 8]], np.float32)
    model = yolov8_like(tmp_path / "m.onnx", boxes, np.array([[0.9, 0.0], [0.0, 0.8]], np.float32),
                        metadata={"names": repr(NAMES)})
    reports = []
    for source in (yolo, yolo / "coco.json"):
        assert main(["eval", str(model), str(source), "--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["metrics"]["map50_95"] == pytest.approx(reports[1]["metrics"]["map50_95"])
    assert reports[1]["data"]["source"] == "coco-json"


def test_data_issues_unknown_kind():
    with pytest.raises(KeyError):
        DataIssues().add("typo", "x")
