"""ONNX Runtime CUDA backend on a real GPU (skipped without onnxruntime-gpu's CUDA provider, a GPU or
the assets; CI runs none of these)."""

from __future__ import annotations

import numpy as np
import pytest

import fastdet
from fastdet.backends import onnxruntime_cuda

pytestmark = [pytest.mark.gpu, pytest.mark.assets]


@pytest.fixture(scope="module")
def yolov8(assets):
    reason = onnxruntime_cuda.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return assets / "models" / "yolov8n_w8.onnx"


def test_matches_cpu(yolov8, bus_jpg):
    import cv2

    bus = cv2.imread(str(bus_jpg))
    cpu = fastdet.Detector(yolov8, backend="onnxruntime-cpu").detect(bus)
    det = fastdet.Detector(yolov8, backend="onnxruntime-cuda")
    for _ in range(2):  # the second run goes through the bound buffers
        gpu = det.detect(bus)
        np.testing.assert_array_equal(gpu.class_ids, cpu.class_ids)
        np.testing.assert_allclose(gpu.xyxy, cpu.xyxy, rtol=1e-3, atol=0.05)
        np.testing.assert_allclose(gpu.scores, cpu.scores, atol=1e-3)
