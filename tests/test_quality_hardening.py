"""Quality commands refuse inputs that would make their gates or results meaningless."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from fastdet.quality.promote import Policy, decide
from tiny_datasets import NAMES, two_images
from tiny_models import yolov8_like

NAN = float("nan")


def _report(ap, ms):
    return {"metrics": {"person_ap50_95": ap, "map50_95": ap}, "latency_ms": {"p50_ms": ms}}


@pytest.mark.parametrize("kwargs", [{"margin": NAN}, {"budget_ms": NAN}, {"max_slowdown": NAN},
                                    {"margin": math.inf}, {"budget_ms": math.inf}, {"max_slowdown": -math.inf}])
def test_policy_rejects_non_finite(kwargs):
    with pytest.raises(fastdet.InputError):
        Policy(**kwargs)


@pytest.mark.parametrize("flag", ["--margin", "--budget-ms", "--max-slowdown"])
def test_promote_cli_rejects_nan(tmp_path, monkeypatch, capsys, flag):
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    assert main(["promote", "ped", "--challenger", "v2", "--data", str(tmp_path), flag, "nan"]) == 2
    assert "finite" in capsys.readouterr().err


def test_decide_nan_never_promotes():
    # Policy is frozen but its checks could be bypassed; decide itself must not let NaN through.
    for field in ("margin", "budget_ms", "max_slowdown"):
        policy = Policy()
        object.__setattr__(policy, field, NAN)
        assert not decide(_report(0.5, 10), _report(0.9, 10), policy)[0], field
    assert not decide(_report(0.5, 10), _report(NAN, 10), Policy())[0]
    assert not decide(_report(0.5, 10), _report(0.9, NAN), Policy())[0]
    assert not decide(_report(0.5, 10), _report(0.9, NAN), Policy(max_slowdown=None, budget_ms=100))[0]


def _model(folder, name="m.onnx", boxes=((16, 32, 16, 16), (48, 32, 8, 8))):
    return yolov8_like(folder / name, np.array(boxes, np.float32), np.array([[0.9, 0.0], [0.0, 0.8]]),
                       metadata={"names": repr(NAMES)})


def _undecodable(folder, n=3):
    images = folder / "images"
    images.mkdir(parents=True)
    for i in range(n):
        (images / f"x{i}.jpg").write_bytes(b"not a jpeg %d" % i)
    return folder


def test_compare_refuses_zero_images(tmp_path, capsys):
    a = _model(tmp_path)
    b = _model(tmp_path, "b.onnx", boxes=((40, 10, 8, 8), (10, 50, 8, 8)))
    bad = _undecodable(tmp_path / "bad")
    good = two_images(tmp_path / "good")
    gates = ["--backend", "onnxruntime-cpu", "--fail-under", "agreement=0.99", "--max-score-diff", "0.01"]
    assert main(["compare", str(a), str(b), "--data", str(bad / "images"), *gates, "--json"]) == 2
    assert "no image" in capsys.readouterr().err
    for limit in ("0", "-1"):
        assert main(["compare", str(a), str(b), "--data", str(good / "images"), *gates, "--limit", limit]) == 2
        assert "--limit" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--data", str(good / "images"), "--backend", "onnxruntime-cpu",
                 "--max-score-diff", "nan"]) == 2
    assert main(["compare", str(a), str(b), "--data", str(good / "images"), "--backend", "onnxruntime-cpu",
                 "--fail-under", "agreement=nan"]) == 2


def test_compare_failures_nan_fails():
    from fastdet.quality.compare import failures
    summary = {"agreement": NAN, "score_diff_max": NAN}
    assert failures(summary, {"agreement": 0.5}) and failures(summary, {}, max_score_diff=0.1)


def test_eval_refuses_zero_images(tmp_path, capsys):
    m = _model(tmp_path)
    bad = _undecodable(tmp_path / "bad")
    good = two_images(tmp_path / "good")
    assert main(["eval", str(m), str(bad), "--backend", "onnxruntime-cpu"]) == 2
    assert "decoded" in capsys.readouterr().err
    for limit in ("0", "-1"):
        assert main(["eval", str(m), str(good), "--backend", "onnxruntime-cpu", "--limit", limit]) == 2
        assert "limit" in capsys.readouterr().err


def test_eval_warns_about_undecodable_images(tmp_path, caplog):
    import logging

    from fastdet.quality.evaluation import evaluate_model
    m = _model(tmp_path)
    data = two_images(tmp_path / "d")
    (data / "images" / "c.jpg").write_bytes(b"not a jpeg")
    with caplog.at_level(logging.WARNING, logger="fastdet"):
        run = evaluate_model(m, data, backend="onnxruntime-cpu")
    assert len(run.gt.images) == 2
    assert any("1 image(s) could not be decoded" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("content", [json.dumps({"metrics": {}}), json.dumps([1]), "not json",
                                     json.dumps({"data": {"sha256": "../../x", "path": "d"}})])
def test_registry_add_checks_eval_report_first(tmp_path, monkeypatch, capsys, content):
    from fastdet.quality.registry import Registry
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    m = _model(tmp_path)
    report = tmp_path / "report.json"
    report.write_text(content)
    assert main(["registry", "add", "ped", str(m), "--eval", str(report)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastdet: error: --eval") and len(err.strip().splitlines()) == 1
    assert Registry().versions("ped") == []
    assert main(["registry", "add", "ped", str(m), "--eval", str(tmp_path / "missing.json")]) == 2
    assert Registry().versions("ped") == []


def _openvino_folder(folder, monkeypatch):
    """A stand-in export folder (not a loadable IR): the registry's load check is switched off for
    the tests of how it copies folders (tests/test_quality_cli_arguments.py adds a real IR)."""
    from fastdet.quality import registry as registry_module

    monkeypatch.setattr(registry_module, "describe_model", lambda path: None)
    folder.mkdir()
    (folder / "model.xml").write_text("<x/>")
    (folder / "model.bin").write_bytes(b"\0" * 8)
    return folder


def test_registry_add_after_interrupted_add(tmp_path, monkeypatch, capsys):
    from fastdet.quality.registry import Registry
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    assert main(["registry", "add", "ped", str(_model(tmp_path))]) == 0
    # What a crash after copying v2's model folder, before its version.json, left behind.
    leftover = tmp_path / "reg" / "ped" / "versions" / "v2"
    (leftover / "model").mkdir(parents=True)
    for p in (leftover, leftover / "model"):
        os.chmod(p, 0o700)
    ov = _openvino_folder(tmp_path / "ov", monkeypatch)
    assert main(["registry", "add", "ped", str(ov)]) == 0
    assert main(["registry", "add", "ped", str(ov)]) == 0
    assert [v["version"] for v in Registry().versions("ped")] == ["v1", "v3", "v4"]
    assert Registry().model_path("ped", "v3").is_dir()
    capsys.readouterr()
    assert main(["registry", "add", "ped", str(ov), "--version", "v2"]) == 2
    assert "interrupted" in capsys.readouterr().err


def test_registry_folder_copy_is_atomic(tmp_path, monkeypatch):
    import shutil

    from fastdet.quality import registry as registry_module
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    ov = _openvino_folder(tmp_path / "ov", monkeypatch)
    real = shutil.copytree

    def crash(src, dst, *a, **k):
        os.makedirs(dst)
        raise OSError("disk full")

    monkeypatch.setattr(registry_module.shutil, "copytree", crash)
    assert main(["registry", "add", "ped", str(ov)]) == 2
    assert not list((tmp_path / "reg" / "ped" / "versions").rglob("model"))
    monkeypatch.setattr(registry_module.shutil, "copytree", real)
    assert main(["registry", "add", "ped", str(ov)]) == 0
    reg = registry_module.Registry()
    assert len(reg.versions("ped")) == 1 and reg.model_path("ped").is_dir()


_COCO = {"images": [{"id": 1, "file_name": "a.png", "height": 64, "width": 128}],
         "categories": [{"id": 1, "name": "person"}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]}]}
_ANN = _COCO["annotations"][0]


@pytest.mark.parametrize("change, kind", [
    ({"annotations": [[1, 1, 1]]}, "malformed_line"),
    ({"annotations": ["x", _ANN]}, "malformed_line"),
    ({"annotations": [{**_ANN, "category_id": [1]}]}, "malformed_line"),
    ({"annotations": [{**_ANN, "image_id": [1]}]}, "malformed_line"),
    ({"annotations": [{**_ANN, "bbox": [True, 1, 10, 10]}]}, "malformed_line"),
    ({"images": [_COCO["images"][0], "b.png"]}, "malformed_line"),
    ({"images": [_COCO["images"][0], {"id": 2, "file_name": ["b.png"]}]}, "malformed_line"),
    ({"categories": [{"id": 1, "name": "person"}, {"id": 2, "name": ["car"]}, 7]}, "malformed_line"),
    ({"images": [{**_COCO["images"][0], "height": float("inf")}]}, None),
    ({"annotations": [_ANN, {**_ANN, "id": 2, "image_id": 7}]}, "missing_image"),
])
def test_coco_json_malformed_entries_are_counted(tmp_path, change, kind):
    from fastdet.quality.data_issues import DataIssues
    from fastdet.quality.data_source import read_ground_truth
    d = two_images(tmp_path / "coco")
    ann = d / "ann.json"
    ann.write_text(json.dumps({**_COCO, **change}))
    issues = DataIssues()
    gt = read_ground_truth(ann, NAMES, issues=issues)
    assert len(gt.images) == 1
    if kind is not None:
        assert issues.counts.get(kind, 0) >= 1, issues.counts
    gt.to_coco([(64, 128)])


def test_coco_json_bad_entries_through_eval(tmp_path, capsys):
    d = two_images(tmp_path / "coco")
    m = _model(tmp_path)
    (d / "ann.json").write_text(json.dumps({**_COCO, "annotations": [{**_ANN, "category_id": [1]}, [1]]}))
    assert main(["eval", str(m), str(d / "ann.json"), "--backend", "onnxruntime-cpu"]) == 0
    assert "malformed_line" in capsys.readouterr().out
    assert main(["eval", str(m), str(d / "ann.json"), "--backend", "onnxruntime-cpu", "--strict"]) == 2
    (d / "ann.json").write_text(json.dumps({**_COCO, "images": ["a.png"]}))
    assert main(["eval", str(m), str(d / "ann.json"), "--backend", "onnxruntime-cpu"]) == 2


def test_yolo_labels_with_gapped_class_ids(tmp_path):
    from fastdet.quality.data_issues import DataIssues
    from fastdet.quality.data_source import read_ground_truth
    from fastdet.quality.yolo_data import parse_label_file
    from tiny_datasets import write_labels
    d = two_images(tmp_path / "y")
    write_labels(d, "a", ["1 0.5 0.5 0.2 0.2", "0 0.25 0.5 0.25 0.5", "2 0.5 0.5 0.2 0.2", "3 0.5 0.5 0.2 0.2"])
    issues = DataIssues()
    gt = read_ground_truth(d, {0: "person", 2: "car"}, issues=issues)
    assert sorted(gt.images[0].classes.tolist()) == [0, 2]
    assert issues.counts["class_out_of_range"] == 2
    coco = gt.to_coco([(64, 128)] * len(gt.images))
    assert sorted(a["category_id"] for a in coco["annotations"]) == [1, 3]
    # An int still means the range [0, n), as before.
    classes, _ = parse_label_file(d / "labels" / "a.txt", 3, DataIssues())
    assert sorted(classes.tolist()) == [0, 1, 2]


def test_to_coco_skips_classes_without_category():
    from fastdet.quality.ground_truth import GroundTruth, ImageTruth
    from pathlib import Path
    img = ImageTruth(Path("a.png"), "0" * 64, np.array([0, 1]), np.array([[0.1, 0.1, 0.5, 0.5]] * 2),
                     np.zeros(2, bool))
    gt = GroundTruth([img], {0: "person", 2: "car"}, {0: 1, 2: 3}, "yolo")
    coco = gt.to_coco([(64, 128)])
    assert [a["category_id"] for a in coco["annotations"]] == [1]
    assert gt.issues.counts["class_out_of_range"] == 1
