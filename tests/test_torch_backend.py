"""The PyTorch backend: the ONNX model converted with onnx2pytorch, on the CPU and through the
CUDA pipeline on a GPU, compared with ONNX Runtime on the CPU.

Skipped where torch or onnx2pytorch is not installed (CI installs neither: see the README's
GPU section); GPU tests also need a CUDA build of fastdet and a GPU.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import fastdet
from fastdet import _core, backends
from tiny_models import yolov8_like


def _import_or_skip(name: str):
    with warnings.catch_warnings():  # torch and friends can warn at import (driver notes)
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except Exception as e:  # ImportError, or a torch/torchvision pair that does not load
            pytest.skip(f"{name} not usable: {e}")


@pytest.fixture(scope="module")
def torch():
    t = _import_or_skip("torch")
    _import_or_skip("onnx2pytorch")
    return t


@pytest.fixture(scope="module")
def cuda_torch(torch):
    if not (getattr(_core, "built_with_cuda", False) and _core.cuda_available()):
        pytest.skip("needs a CUDA build of fastdet and a usable GPU")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    return torch


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 64x64 YOLOv8-layout model with three known boxes; scores follow mean brightness."""
    boxes = np.array([[20, 20, 16, 16], [21, 21, 16, 16], [44, 40, 10, 12]], np.float32)
    weights = np.array([[0.9, 0.8, 0.0], [0.0, 0.0, 0.7]], np.float32)
    return yolov8_like(tmp_path_factory.mktemp("t") / "tiny.onnx", boxes, weights, dynamic_batch=False,
                       metadata={"names": "{0: 'person', 1: 'car'}"})


def frames(rng, n=3):
    return [np.clip(rng.normal(200, 40, (int(rng.integers(40, 300)), int(rng.integers(40, 300)), 3)), 0, 255)
            .astype(np.uint8) for _ in range(n)]


def assert_same(a, b, *, box_atol=1e-3, score_atol=1e-5):
    assert len(a) == len(b), f"{len(a)} vs {len(b)} boxes"
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    np.testing.assert_allclose(a.scores, b.scores, atol=score_atol)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=box_atol)


# ------------------------------------------------------------------------------------- CPU


def test_cpu_matches_onnxruntime(torch, tiny):
    det = fastdet.Detector(tiny, backend="torch", device="cpu", conf=0.1)
    ref = fastdet.Detector(tiny, backend="onnxruntime-cpu", conf=0.1)
    assert det.backend == "torch" and det.names == ref.names
    rng = np.random.default_rng(0)
    for f in frames(rng):
        got, want = det.detect(f), ref.detect(f)
        assert len(want) > 0
        assert_same(got, want)
    assert len(det.detect(np.zeros((50, 60, 3), np.uint8))) == 0
    assert det._backend.forward.traced(1), "the converted module should trace (no Python shape logic left)"


def test_a_dynamic_batch_runs_in_bounded_chunks(torch, tmp_path):
    """Each new batch size is traced once and keeps buffers: a list of any length runs in chunks
    of at most MAX_DYNAMIC_BATCH, so 40 frames make two sizes (32 and 8), not one of 40."""
    boxes = np.array([[20, 20, 16, 16], [44, 40, 10, 12]] + [[32, 32, 8, 8]] * 6, np.float32)
    weights = np.zeros((2, 8), np.float32)
    weights[0, 0], weights[1, 1] = 0.9, 0.7
    path = yolov8_like(tmp_path / "dyn.onnx", boxes, weights, dynamic_batch=True,
                       metadata={"names": "{0: 'person', 1: 'car'}"})
    det = fastdet.Detector(path, backend="torch", device="cpu", conf=0.1)
    ref = fastdet.Detector(path, backend="onnxruntime-cpu", conf=0.1)
    batch = frames(np.random.default_rng(1), 40)
    for got, want in zip(det.detect(batch), ref.detect(batch)):
        assert_same(got, want)
    assert det._backend.max_batch == 32
    assert sorted(det._backend.forward._traced) == [8, 32]


def test_auto_never_picks_torch_without_a_gpu(torch, tiny, monkeypatch):
    monkeypatch.setattr(_core, "cuda_available", lambda: False)
    assert backends.availability()["torch"] is None  # installed and usable when asked for by name
    cpu = next(n for n in backends.names() if n in backends.CPU_BACKENDS and backends.availability()[n] is None)
    assert fastdet.Detector(tiny).backend == cpu
    assert fastdet.Detector(tiny, device="cpu").backend == cpu


def test_bad_options_raise(torch, tiny):
    with pytest.raises(ValueError, match="precision"):
        fastdet.Detector(tiny, backend="torch", device="cpu", precision="int4")
    with pytest.raises(ValueError, match="fp16"):
        fastdet.Detector(tiny, backend="torch", device="cpu", precision="fp16")
    with pytest.raises(ValueError, match="device"):
        fastdet.Detector(tiny, backend="torch", device="tpu")


def test_unconvertible_model_raises_model_error(torch, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(fastdet.ModelError):
        backends.pytorch.convert(bad)


def test_missing_packages_named(monkeypatch):
    """Whatever is installed here: with only onnx2pytorch missing, the reason names it and the extra."""
    monkeypatch.setattr(backends.pytorch, "installed", lambda name: name != "onnx2pytorch")
    reason = backends.pytorch.unavailable_reason()
    assert reason is not None and "onnx2pytorch" in reason and "fastdet[torch]" in reason
    monkeypatch.setattr(backends.pytorch, "installed", lambda name: True)
    assert backends.pytorch.unavailable_reason() is None


# ------------------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("use_graphs", [True, False])
def test_gpu_pipeline_matches_onnxruntime_tiny(cuda_torch, tiny, use_graphs):
    det = fastdet.Detector(tiny, backend="torch", device="cuda:0", conf=0.1, use_graphs=use_graphs)
    ref = fastdet.Detector(tiny, backend="onnxruntime-cpu", conf=0.1)
    assert det._gpu is not None, "the torch backend on a GPU must run through the CUDA pipeline"
    rng = np.random.default_rng(1)
    for f in frames(rng, 4) + frames(rng, 2):  # repeated shapes: graph replay of pipeline and module
        assert_same(det.detect(f), ref.detect(f))
    engine = det._backend.engine
    assert bool(engine._graphs) == use_graphs


@pytest.mark.gpu
def test_gpu_pipeline_device_frames_from_a_side_stream(cuda_torch, tiny):
    """A tensor produced on the caller's current (side) stream and handed over unsynchronised:
    torch's __cuda_array_interface__ names no stream, so the pipeline must wait for the current
    one. The producer is held back by a long device-side sleep so that a missing wait would read
    the frame before it is written."""
    torch = cuda_torch
    det = fastdet.Detector(tiny, backend="torch", device="cuda", conf=0.1)
    rng = np.random.default_rng(2)
    for f in frames(rng):
        host = det.detect(f)
        side = torch.cuda.Stream()
        src = torch.from_numpy(f).pin_memory()
        with torch.cuda.stream(side):
            dev = torch.zeros(f.shape, dtype=torch.uint8, device="cuda")
            torch.cuda._sleep(50_000_000)  # ~25 ms of device time before the frame is written
            dev.copy_(src, non_blocking=True)
            got = det.detect(dev)
        assert_same(got, host, box_atol=0, score_atol=0)


def _real_model(assets):
    path = assets / "models" / "yolov8n_w8.onnx"
    if not path.is_file():
        pytest.skip("yolov8n_w8.onnx not in the assets")
    return path


@pytest.mark.gpu
@pytest.mark.assets
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_real_yolov8n_gpu_matches_cpu(cuda_torch, assets, bus_jpg, precision):
    """yolov8n_w8.onnx through the whole device pipeline vs ONNX Runtime on the CPU: the same
    detections on real photos; fp32 scores within 2e-3 and boxes within 0.5 px, fp16 within 0.02
    and 3 px (fp16 activations), matched greedily by class and IoU."""
    import cv2

    model = _real_model(assets)
    gpu = fastdet.Detector(model, backend="torch", device="cuda:0", precision=precision)
    cpu = fastdet.Detector(model, backend="onnxruntime-cpu")
    images = [cv2.imread(str(bus_jpg))] + [cv2.imread(str(p)) for p in sorted((assets / "images").glob("*.jpg"))]
    score_tol, box_tol = (2e-3, 0.5) if precision == "fp32" else (2e-2, 3.0)
    for img in images:
        for _ in range(2):  # first call captures, second replays
            got = gpu.detect(img)
        want = cpu.detect(img)
        # Near the threshold a score can cross it: compare the confident detections one to one.
        strong = want.scores > 0.25 + 2 * score_tol
        matched = 0
        for box, score, cls in zip(want.xyxy[strong], want.scores[strong], want.class_ids[strong]):
            same = np.flatnonzero(got.class_ids == cls)
            assert same.size, f"class {cls} missing on the GPU"
            err = np.abs(got.xyxy[same] - box).max(1)
            j = same[err.argmin()]
            assert err.min() <= box_tol, f"box {box} off by {err.min():.2f} px"
            assert abs(got.scores[j] - score) <= score_tol
            matched += 1
        assert len(got) <= len(want) + 2 and matched >= 1
    engine = gpu._backend.engine
    assert engine.forward.traced(1) and engine._graphs, "traced and replayed as a CUDA graph"
