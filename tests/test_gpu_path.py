"""When the Detector takes the CUDA pipeline, and that it stays on the CPU otherwise."""

from __future__ import annotations

import numpy as np

import fastdet
from fastdet.gpu_pipeline import GpuPath, is_device_array
from tiny_models import yolov8_like


def test_cpu_backend_never_takes_the_gpu_path(tmp_path):
    path = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    det = fastdet.Detector(path)
    assert det._gpu is None
    assert not GpuPath.usable(det._backend, None)
    assert not GpuPath.usable(det._backend, "cpu")
    det.detect(np.zeros((20, 20, 3), np.uint8))
    assert set(det.timings) == {"preprocess", "inference", "postprocess"}


def test_device_arrays_are_recognised_by_their_interface():
    class FakeDeviceArray:
        __cuda_array_interface__ = {"shape": (4, 4, 3), "typestr": "|u1", "data": (0, False), "version": 3}

    assert is_device_array(FakeDeviceArray())
    assert not is_device_array(np.zeros((4, 4, 3), np.uint8))
