"""Batch inference on Ray Data: the same rows as one Detector in this process, whatever the
partitioning; a corrupt image is one error row. Skipped where ray is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import fastdet  # noqa: E402
from fastdet.ray import DetectBatches, detections_table, schema  # noqa: E402
from tiny_models import yolov8_like  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    boxes = np.array([[20, 20, 16, 16], [21, 21, 16, 16], [44, 40, 10, 12], [50, 10, 8, 8]], np.float32)
    weights = np.array([[0.9, 0.8, 0.0, 0.6], [0.0, 0.0, 0.7, 0.0]], np.float32)
    return yolov8_like(tmp_path_factory.mktemp("m") / "tiny.onnx", boxes, weights,
                       metadata={"names": "{0: 'person', 1: 'car'}"})


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """23 images of varied sizes and brightness in two folders, and one corrupt file."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(23):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        h, w = int(rng.integers(20, 200)), int(rng.integers(20, 200))
        cv2.imwrite(str(sub / f"img{i:02d}.png"), np.full((h, w, 3), int(rng.integers(0, 256)), np.uint8))
    (root / "a" / "broken.png").write_bytes(b"not an image")
    return root


def _files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.png"))


def test_detect_batches_matches_one_detector_without_ray(model, images):
    files = _files(images)
    job = DetectBatches(str(model), conf=0.1)
    table = pa.Table.from_pydict({"path": files, "bytes": [Path(f).read_bytes() for f in files]})
    got = job(table).sort_by("path")
    assert got.schema == schema()
    want = detections_table(fastdet.Detector(model, conf=0.1), files)
    assert got.to_pylist() == want.to_pylist()
    rows = {r["path"]: r for r in got.to_pylist()}
    bad = rows[str(images / "a" / "broken.png")]
    assert bad["error"] and "cannot decode" in bad["error"] and bad["boxes"] is None
    assert sum(r["error"] is None for r in rows.values()) == 23
    assert any(r["boxes"] for r in rows.values())  # the bright images have detections


def test_model_bytes_are_loaded_on_the_actor(model, images):
    files = _files(images)[:3]
    job = DetectBatches(Path(model).read_bytes(), conf=0.1)
    got = job(pa.Table.from_pydict({"path": files})).sort_by("path")  # no bytes column: the files are read
    want = detections_table(fastdet.Detector(model, conf=0.1), files)
    assert got.to_pylist() == want.to_pylist()


def test_bad_model_argument_is_an_input_error():
    with pytest.raises(fastdet.InputError, match="model"):
        DetectBatches(12345)


@pytest.mark.parametrize("actors,batch", [(1, 5), (2, 3)])
def test_cli_on_a_local_ray_writes_the_single_process_rows(model, images, tmp_path, actors, batch):
    pytest.importorskip("ray")
    out = tmp_path / "out.parquet"
    cmd = [sys.executable, "-m", "fastdet", "detect", "--ray", str(images / "a"), str(images / "b" / "*.png"),
           "--model", str(model), "--conf", "0.1", "--out", str(out), "--actors", str(actors),
           "--cpus-per-actor", "0.5", "--batch-size", str(batch)]
    env = {**os.environ, "RAY_DISABLE_IMPORT_WARNING": "1"}
    # A hard limit: a job starved of CPUs must fail the test, not hang it.
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 1, p.stderr[-3000:]  # one corrupt image: the job completes, exit 1 with the count
    assert "24 images, 1 errors" in p.stderr
    got = pq.read_table(out)
    want = detections_table(fastdet.Detector(model, conf=0.1), _files(images))
    assert got.sort_by("path").to_pylist() == want.to_pylist()


def test_eval_on_ray_equals_the_local_eval(tmp_path, capsys):
    """fastdet eval --ray: predictions on a local Ray, metrics computed once, equal to the local run."""
    pytest.importorskip("ray")
    pytest.importorskip("pycocotools")
    import json

    from fastdet.cli import main
    from tiny_datasets import many_images

    data = tmp_path / "data"
    many_images(data, 12, seed=3)
    boxes = np.array([[20, 20, 16, 16], [21, 21, 16, 16], [44, 40, 10, 12], [50, 10, 8, 8]], np.float32)
    weights = np.array([[0.9, 0.8, 0.0, 0.6], [0.0, 0.0, 0.7, 0.0]], np.float32)
    model = yolov8_like(tmp_path / "m.onnx", boxes, weights, metadata={"names": "{0: 'person', 1: 'car'}"})
    args = ["eval", str(model), str(data), "--json", "--backend", "onnxruntime-cpu"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--ray", "--actors", "2", "--cpus-per-actor", "0.5", "--batch-size", "5"]) == 0
    distributed = json.loads(capsys.readouterr().out)
    assert distributed["metrics"] == local["metrics"]
    assert distributed["data"] == local["data"]
