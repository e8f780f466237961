"""The fastdet command line, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fastdet.cli import main


@pytest.fixture(scope="module")
def model(two_class_model):
    return two_class_model


@pytest.fixture()
def images(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        cv2.imwrite(str(d / f"w{i}.png"), np.full((40 + i, 80, 3), 255, np.uint8))
    return d


def test_detect_json(model, images, capsys):
    assert main(["detect", str(images), "--model", str(model), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 3
    assert records[0]["detections"][0]["name"] == "car"
    assert records[1]["height"] == 41


def test_detect_save_and_summary(model, images, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["detect", str(images / "w0.png"), "--model", str(model), "--save", str(out)]) == 0
    assert "1 car" in capsys.readouterr().out
    saved = cv2.imread(str(out / "w0.png"))
    assert saved is not None and saved.shape == (40, 80, 3)
    assert (saved != 255).any()  # a box was drawn


def test_detect_errors(model, tmp_path, capsys):
    with pytest.raises(SystemExit, match="no such file"):
        main(["detect", str(tmp_path / "nope.jpg"), "--model", str(model)])
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert main(["detect", str(tmp_path / "a.png"), "--model", str(tmp_path / "missing.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_model_is_explained(images, tmp_path, capsys):
    assert main(["detect", str(images / "w0.png"), "--model", str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err
    assert "nope.onnx" in err and "yolo export" in err and "fastdet models" in err


def test_info(model, capsys):
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "yolov8" in out and "onnxruntime-cpu" in out and "0=person" in out
    assert main(["info", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "yolov8"


def test_python_dash_m(model):
    r = subprocess.run([sys.executable, "-m", "fastdet", "info", str(model)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "backends:" in r.stdout
