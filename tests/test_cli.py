"""The fastdet command line, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fastdet.cli import main

pytestmark = pytest.mark.usefixtures("cpu_backend")


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
    assert main(["detect", str(tmp_path / "nope.jpg"), "--model", str(model)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert main(["detect", str(tmp_path / "a.png"), "--model", str(tmp_path / "missing.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_model_is_explained(images, tmp_path, capsys):
    assert main(["detect", str(images / "w0.png"), "--model", str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err
    assert "nope.onnx" in err and "yolo export" in err and "fastdet models" in err


def test_info(model, capsys, cpu_backend):
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "yolov8" in out and cpu_backend in out and "0=person" in out
    assert main(["info", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "yolov8"


def test_python_dash_m(model):
    r = subprocess.run([sys.executable, "-m", "fastdet", "info", str(model)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "backends:" in r.stdout


def test_one_bad_image_in_a_folder_is_reported_and_the_rest_processed(model, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.png", "c.png"):
        cv2.imwrite(str(folder / name), np.full((32, 32, 3), 255, np.uint8))
    (folder / "b.png").write_bytes(b"not a png at all")
    assert main(["detect", str(folder), "--model", str(model), "--json"]) == 1
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert [Path(r["image"]).name for r in records] == ["a.png", "b.png", "c.png"]
    assert "error" in records[1] and "detections" in records[0] and "detections" in records[2]
    assert "b.png" in captured.err and "1 of 3 images failed" in captured.err and "Traceback" not in captured.err


def test_save_onto_a_file_is_one_line(model, tmp_path, capsys):
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "out").write_text("a file")
    assert main(["detect", str(img), "--model", str(model), "--save", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err


def test_same_names_from_two_folders_do_not_overwrite(model, tmp_path):
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "img.png"), np.full((16, 16, 3), 255, np.uint8))
    out = tmp_path / "out"
    assert main(["detect", str(tmp_path / "x"), str(tmp_path / "y"), "--model", str(model), "--save", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["img-2.png", "img.png"]


def test_model_folder_and_zero_size_model_are_one_line(model, tmp_path, capsys):
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    assert main(["detect", str(img), "--model", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads and writes anything")
def test_unreadable_image_and_unwritable_save_folder(model, tmp_path, capsys):
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    img.chmod(0)
    assert main(["detect", str(img), "--model", str(model)]) == 1
    assert "cannot read" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    img.chmod(0o600)
    assert main(["detect", str(img), "--model", str(model), "--save", str(locked)]) == 2
    assert "not writable" in capsys.readouterr().err


def test_running_out_of_memory_is_one_line(monkeypatch, capsys):
    """A size that cannot fit fails as one line, not a MemoryError traceback."""
    from fastdet import info_cli

    def no_memory(args):
        raise MemoryError("Unable to allocate 55.0 GiB")

    monkeypatch.setattr(info_cli, "run", no_memory)
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastdet: error: out of memory (Unable to allocate 55.0 GiB)") and "Traceback" not in err
