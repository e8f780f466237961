"""TensorRT backend on a real GPU with the real yolov8n_w8.onnx (skipped without TensorRT, cupy, a GPU
or the assets; CI runs none of these).

Tolerances against the onnxruntime-cpu path on bus.jpg:
- fp32 engine: boxes within 1e-3 relative (plus 0.05 px absolute for coordinates clipped to 0),
  scores within 1e-3 absolute, the same boxes in the same order.
- fp16 engine: every CPU box scoring >= 0.35 (0.1 above the default threshold, so fp16 rounding
  cannot move it across) has a TensorRT box of the same class with IoU >= 0.95 and a score
  within 0.02; fp16 has ~3 significant digits and YOLOv8's DFL head accumulates rounding.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

import fastdet
from fastdet import _core
from fastdet.engine_cache import EngineCache

pytestmark = [pytest.mark.gpu, pytest.mark.tensorrt, pytest.mark.assets]


def _missing() -> str | None:
    for package in ("tensorrt", "cupy"):
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed"
    if not _core.cuda_available():
        return "no CUDA GPU"
    return None


@pytest.fixture(scope="module")
def yolov8(assets):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    path = assets / "models" / "yolov8n_w8.onnx"
    if not path.is_file():
        pytest.skip(f"{path.name} not in the assets")
    return path


@pytest.fixture(scope="module")
def bus(bus_jpg):
    import cv2

    return cv2.imread(str(bus_jpg))


@pytest.fixture(scope="module")
def cpu_dets(yolov8, bus):
    return fastdet.Detector(yolov8, backend="onnxruntime-cpu").detect(bus)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("engines")


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a: float32[4] xyxy, b: float32[N, 4] -> float[N]."""
    lt = np.maximum(a[:2], b[:, :2])
    rb = np.minimum(a[2:], b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_fp32_matches_cpu(yolov8, bus, cpu_dets, cache_dir):
    det = fastdet.Detector(yolov8, backend="tensorrt", precision="fp32", cache_dir=cache_dir)
    assert det.backend == "tensorrt"
    trt = det.detect(bus)
    assert len(cpu_dets) >= 4
    np.testing.assert_array_equal(trt.class_ids, cpu_dets.class_ids)
    np.testing.assert_allclose(trt.xyxy, cpu_dets.xyxy, rtol=1e-3, atol=0.05)
    np.testing.assert_allclose(trt.scores, cpu_dets.scores, atol=1e-3)


def test_fp16_matches_cpu_within_tolerance(yolov8, bus, cpu_dets, cache_dir):
    trt = fastdet.Detector(yolov8, backend="tensorrt", precision="fp16", cache_dir=cache_dir).detect(bus)
    for box, score, cls in zip(cpu_dets.xyxy, cpu_dets.scores, cpu_dets.class_ids):
        if score < 0.35:
            continue
        same = trt.class_ids == cls
        assert same.any(), f"class {cls} missing from the fp16 result"
        ious = _iou(box, trt.xyxy[same])
        best = int(np.argmax(ious))
        assert ious[best] >= 0.95
        assert abs(trt.scores[same][best] - score) <= 0.02


def test_engine_is_cached_and_reused(yolov8, cache_dir, caplog):
    from fastdet.backends import tensorrt

    info = tensorrt.describe_model(yolov8)
    key, first = tensorrt.load_or_build(info, precision="fp32", cache_dir=cache_dir)
    assert first.path.is_file() and first.path.parent == cache_dir
    key2, again = tensorrt.load_or_build(info, precision="fp32", cache_dir=cache_dir)
    assert key2 == key and not again.built and again.data == first.data
    # a damaged cache file is rebuilt, with a warning, and the engine still runs
    first.path.write_bytes(first.path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="fastdet"):
        _, rebuilt = tensorrt.load_or_build(info, precision="fp32", cache_dir=cache_dir)
    assert rebuilt.built
    assert any("rebuilding" in r.getMessage() for r in caplog.records)
    assert EngineCache(cache_dir).load(key) == rebuilt.data


def test_device_engine_on_caller_buffers_and_stream(yolov8, bus, cache_dir):
    """The enqueue(input_ptr, output_ptr, stream) seam the CUDA pipeline drives, on cupy buffers."""
    import cupy

    det = fastdet.Detector(yolov8, backend="tensorrt", precision="fp32", cache_dir=cache_dir)
    backend = det._backend
    x = backend.input_buffer(1)
    _core.letterbox_into(bus, x[0], det.info.recipe, False)
    expected = backend.run(1).copy()
    engine = backend.engine
    i, o = engine.input_spec(1), engine.output_spec(1)
    stream = cupy.cuda.Stream(non_blocking=True)
    d_in = cupy.asarray(x.astype(i.dtype))
    d_out = cupy.zeros(o.shape, o.dtype)
    cupy.cuda.Stream.null.synchronize()  # made on the legacy stream, read on a non-blocking one
    enqueue = engine.enqueue_fn(1)
    enqueue(d_in.data.ptr, d_out.data.ptr, stream.ptr)  # warm-up
    enqueue(d_in.data.ptr, d_out.data.ptr, stream.ptr)
    stream.synchronize()
    np.testing.assert_allclose(cupy.asnumpy(d_out).astype(np.float32), expected, rtol=1e-5, atol=1e-5)
