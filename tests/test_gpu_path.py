"""When the Detector takes the CUDA pipeline, and that it stays on the CPU otherwise; the GPU
path's seams that need no GPU (static-batch padding, the capture-failure warning), with a
stand-in for the compiled pipeline (the real one is covered by the GPU tests)."""

from __future__ import annotations

import logging

import fastdet
import numpy as np
from fastdet.gpu_pipeline import GpuPath, is_device_array, producer_stream
from tiny_models import yolov8_like


def test_cpu_backend_never_takes_the_gpu_path(tmp_path):
    path = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    det = fastdet.Detector(path, backend="onnxruntime-cpu")  # auto would take a GPU where there is one
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


class _Pipeline:
    """Records the batches it is given; answers one result tuple per frame."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.capture_failures = 0
        self.last_capture_error = ""

    def run(self, frames, rgb):
        self.batches.append(len(frames))
        return [(i, None, None, None, None) for i in range(len(frames))]


def _path(static_batch, min_batch=None):
    path = GpuPath.__new__(GpuPath)
    path.pipeline = _Pipeline()
    path.static_batch = static_batch
    path.min_batch = min_batch or static_batch or 1
    path._capture_failures = 0
    path._name = "m.onnx"
    return path


def test_static_batch_engine_gets_its_batch_and_padding_is_dropped():
    path = _path(4)
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    out = path.run(frames, False)
    assert path.pipeline.batches == [4] and [r[0] for r in out] == [0, 1, 2]
    assert len(path.run(frames + frames[:1], False)) == 4 and path.pipeline.batches[-1] == 4


def test_a_profile_starting_above_one_gets_at_least_its_minimum():
    """A TensorRT profile (4, 8, 16): 2 frames run as 4 (padding dropped), 6 as 6."""
    path = _path(None, min_batch=4)
    frames = [np.zeros((8, 8, 3), np.uint8)] * 6
    assert [r[0] for r in path.run(frames[:2], False)] == [0, 1]
    assert len(path.run(frames, False)) == 6
    assert path.pipeline.batches == [4, 6]


def test_dynamic_batch_is_not_padded():
    path = _path(None)
    assert len(path.run([np.zeros((8, 8, 3), np.uint8)] * 3, False)) == 3
    assert path.pipeline.batches == [3]


def test_capture_failure_is_logged_once_per_new_failure(caplog):
    path = _path(None)
    frame = [np.zeros((8, 8, 3), np.uint8)]
    with caplog.at_level(logging.WARNING, logger="fastdet"):
        path.run(frame, False)
        path.pipeline.capture_failures = 1
        path.pipeline.last_capture_error = "operation not permitted when stream is capturing"
        path.run(frame, False)
        path.run(frame, False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not permitted" in warnings[0]


def test_producer_stream_of_non_torch_arrays_is_left_to_their_interface():
    assert producer_stream(np.zeros(3)) == 0


def test_producer_stream_is_the_callers_torch_stream_wherever_the_tensor_stands(monkeypatch):
    """A list whose first frame is not a torch tensor (CuPy first, then torch), and tensor
    subclasses, still make the pipeline wait for the caller's torch stream."""
    import pytest

    torch = pytest.importorskip("torch")

    class Stream:
        cuda_stream = 1234

    seen = []
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device: seen.append(device) or Stream())

    class Sub(torch.Tensor):
        pass

    class FakeCupy:
        __cuda_array_interface__ = {"shape": (4, 4, 3), "typestr": "|u1", "data": (0, False), "version": 3}

    tensor = torch.zeros((4, 4, 3), dtype=torch.uint8)
    assert producer_stream([FakeCupy(), tensor]) == 1234
    assert producer_stream(tensor.as_subclass(Sub)) == 1234
    assert producer_stream([FakeCupy()]) == 0
    assert seen == [tensor.device, tensor.device]


def test_a_device_array_given_to_a_host_detector_says_what_to_do(tmp_path):
    import pytest

    class FakeDeviceArray:
        __cuda_array_interface__ = {"shape": (4, 4, 3), "typestr": "|u1", "data": (0, False), "version": 3}

    path = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    det = fastdet.Detector(path, backend="onnxruntime-cpu")
    with pytest.raises(fastdet.InputTypeError, match="GPU array .* copy it to a numpy array"):
        det.detect(FakeDeviceArray())


def test_an_engine_whose_output_does_not_hold_the_head_is_refused(tmp_path):
    """The decode kernel reads the head's values per image from the engine's output binding: an
    engine with another output size is a ModelError before any pipeline exists."""
    import pytest

    from fastdet.backends.device_engine import TensorSpec

    path = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    info = fastdet.Detector(path, backend="onnxruntime-cpu").info

    class Engine:
        def output_spec(self, batch):
            return TensorSpec("out", np.dtype(np.float32), (batch, 6, 7))  # the head is [B, 6, 8]

    class Backend:
        engine, static_batch, min_batch = Engine(), None, 1

    with pytest.raises(fastdet.ModelError, match="does not hold the head's 48 values"):
        GpuPath(Backend(), info, fastdet._core.DecodeOptions(), None, None)
