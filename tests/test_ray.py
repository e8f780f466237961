"""Batch inference on Ray Data: the same rows as one Detector in this process, whatever the
partitioning; a corrupt image is one error row. Skipped where ray is not installed."""

from __future__ import annotations

import os
import re
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


def test_model_bytes_leave_no_temporary_copy(model, images, tmp_path, monkeypatch):
    """Each actor writes the shipped bytes to a private file for the backend: it is gone once the
    Detector has loaded it (and when loading fails), and detection goes on without it."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    blob = Path(model).read_bytes()
    jobs = [DetectBatches(blob, conf=0.1) for _ in range(3)]
    with pytest.raises(fastdet.ModelError):
        DetectBatches(b"not an onnx model")
    assert list(tmp_path.iterdir()) == []
    files = _files(images)[:3]
    want = detections_table(fastdet.Detector(model, conf=0.1), files).to_pylist()
    for job in jobs:
        assert job(pa.Table.from_pydict({"path": files})).sort_by("path").to_pylist() == want


def test_a_recipe_pickles_as_its_fields(model, images):
    """Ray pickles the Detector options it sends to actors: a Recipe (a native object) pickles as
    its fields and comes back equal, and DetectBatches given it detects as a local Detector does."""
    import pickle

    from fastdet import recipes

    recipe = fastdet.make_recipe(placement="top_left", pad_value=0.0, scale=1 / 510, mean=(0.1, 0.2, 0.3),
                                 std=(2.0, 1.5, 1.0), output_rgb=False, scaleup=False)
    back = pickle.loads(pickle.dumps(recipe))
    assert back is not recipe and recipes.fields(back) == recipes.fields(recipe)
    files = _files(images)[:4]
    table = pa.Table.from_pydict({"path": files})
    want = detections_table(fastdet.Detector(model, conf=0.1, recipe=recipe), files).to_pylist()
    assert DetectBatches(str(model), conf=0.1, recipe=back)(table).sort_by("path").to_pylist() == want


def test_ray_output_folder_must_be_new_or_empty(model, images, tmp_path, capsys):
    """A folder already holding files is refused (one line, exit 2 from the CLI), never mixed."""
    pytest.importorskip("ray")
    from fastdet.cli import main
    from fastdet.ray import run_detect

    out = tmp_path / "detections"
    out.mkdir()
    (out / "part-0.parquet").write_bytes(b"an earlier run")
    with pytest.raises(fastdet.InputError, match=re.escape(str(out))):
        run_detect([str(images / "a")], out, model=model)
    args = ["detect", "--ray", str(images / "a"), "--model", str(model), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastdet: error:") and str(out) in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["part-0.parquet"]


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


def test_run_detect_into_a_folder_with_a_custom_recipe(model, images, tmp_path):
    """In-process run_detect: a Recipe object reaches the actors, a folder output counts this
    run's rows, and the same folder is refused the second time."""
    pytest.importorskip("ray")
    from fastdet.ray import run_detect

    recipe = fastdet.make_recipe(placement="top_left", pad_value=0.0, scale=1 / 510)
    files = _files(images)
    out = tmp_path / "detections"
    counts = run_detect([str(images)], out, model=model, actors=1, cpus_per_actor=0.5, batch_size=8,
                        conf=0.1, recipe=recipe)
    assert counts == {"images": 24, "errors": 1}
    got = pq.read_table(out).sort_by("path").to_pylist()
    want = detections_table(fastdet.Detector(model, conf=0.1, recipe=recipe), files).to_pylist()
    assert got == want
    assert got != detections_table(fastdet.Detector(model, conf=0.1), files).to_pylist()  # the recipe mattered
    with pytest.raises(fastdet.InputError, match="not empty"):
        run_detect([str(images)], out, model=model, conf=0.1)
