"""Backend choice and fallback, by controlling what is importable and whether a GPU is visible.

These test fastdet's selection logic and the `fastdet build` argument handling; they run no
TensorRT and no GPU code (nothing here covers TensorRT itself: see test_tensorrt.py).
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys

import numpy as np
import pytest

import fastdet
from fastdet import _core, backends
from fastdet.backends import BackendUnavailable, device_engine, onnxruntime_cuda, tensorrt
from fastdet.cli import build_parser, main
from fastdet.build_cli import parse_batch
from tiny_models import yolov8_like

GPU_BACKENDS = ["tensorrt", "onnxruntime-cuda"]


@pytest.fixture(scope="module")
def model(two_class_model):
    return two_class_model


@pytest.fixture()
def static_model(tmp_path):
    return yolov8_like(tmp_path / "static.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32),
                       np.zeros((2, 8), np.float32), dynamic_batch=False)


@pytest.fixture()
def no_gpu(monkeypatch):
    """A CUDA build that finds no GPU (what CPU-only builds report is tested separately)."""
    monkeypatch.setattr(_core, "built_with_cuda", True, raising=False)
    monkeypatch.setattr(_core, "cuda_available", lambda: False)


@pytest.fixture()
def gpu(monkeypatch):
    """A CUDA build that sees a GPU (only the visibility checks are told so)."""
    monkeypatch.setattr(_core, "built_with_cuda", True, raising=False)
    monkeypatch.setattr(_core, "cuda_available", lambda: True)


def hide(monkeypatch, *packages):
    for name in packages:
        monkeypatch.setitem(sys.modules, name, None)  # find_spec() -> None, import -> ImportError


def pretend_installed(monkeypatch, *packages):
    real = importlib.util.find_spec

    def find_spec(name, package=None):
        if name in packages:
            return importlib.util.spec_from_loader(name, loader=None)
        return real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_auto_order_prefers_tensorrt_then_ort_cuda_then_torch_then_openvino_then_ort_cpu():
    assert backends.names() == ["tensorrt", "onnxruntime-cuda", "torch", "openvino-cpu", "onnxruntime-cpu"]


def test_importing_fastdet_loads_no_gpu_runtime():
    code = ("import sys, fastdet, fastdet.cli; fastdet.backends.availability(); "
            "print(sorted(m for m in ('tensorrt', 'cupy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_tensorrt_package_absent(monkeypatch, gpu):
    hide(monkeypatch, "tensorrt")
    assert "tensorrt package is not installed" in tensorrt.unavailable_reason()
    assert "tensorrt package is not installed" in backends.availability()["tensorrt"]


def test_no_gpu_makes_both_gpu_backends_unavailable(monkeypatch, no_gpu):
    pretend_installed(monkeypatch, "tensorrt", "cupy", "onnxruntime")
    for name in GPU_BACKENDS:
        assert backends.availability()[name] == "no CUDA GPU found"


def test_cpu_only_build_is_named(monkeypatch):
    monkeypatch.setattr(_core, "built_with_cuda", False, raising=False)
    pretend_installed(monkeypatch, "tensorrt", "cupy")
    assert "built without CUDA" in tensorrt.unavailable_reason()
    assert "built without CUDA" in onnxruntime_cuda.unavailable_reason()


def test_tensorrt_needs_cupy_for_its_device_buffers(monkeypatch, gpu):
    pretend_installed(monkeypatch, "tensorrt")
    hide(monkeypatch, "cupy")
    assert "cupy is not installed" in tensorrt.unavailable_reason()


def test_tensorrt_available_when_everything_is_there(monkeypatch, gpu):
    pretend_installed(monkeypatch, "tensorrt", "cupy")
    assert tensorrt.unavailable_reason() is None


def test_ort_cuda_needs_the_cuda_provider(monkeypatch, gpu):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert "no CUDAExecutionProvider" in onnxruntime_cuda.unavailable_reason()
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnxruntime_cuda.unavailable_reason() is None
    hide(monkeypatch, "onnxruntime")
    assert "onnxruntime-gpu is not installed" in onnxruntime_cuda.unavailable_reason()


def test_auto_falls_back_to_cpu_and_says_why(model, monkeypatch, no_gpu, caplog, cpu_backend):
    hide(monkeypatch, "tensorrt")
    with caplog.at_level(logging.DEBUG, logger="fastdet"):
        det = fastdet.Detector(model)
    assert det.backend == cpu_backend
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "fastdet"]
    assert (logging.INFO, f"backend: {cpu_backend}") in records
    skipped = [m for level, m in records if level == logging.DEBUG and "skipped" in m]
    assert len(skipped) == 3
    assert "tensorrt" in skipped[0] and "not installed" in skipped[0]
    assert "onnxruntime-cuda" in skipped[1] and "no CUDA GPU" in skipped[1]
    # torch, installed or not, is never chosen without a GPU.
    assert "torch" in skipped[2] and ("no CUDA GPU" in skipped[2] or "not installed" in skipped[2])
    assert len(det.detect(np.full((40, 80, 3), 255, np.uint8))) == 1


@pytest.mark.parametrize("name", GPU_BACKENDS)
def test_forced_backend_unavailable_is_a_clear_error(name, model, monkeypatch, no_gpu):
    pretend_installed(monkeypatch, "tensorrt", "cupy")
    with pytest.raises(BackendUnavailable, match=rf"backend '{name}' is not available: .*GPU"):
        fastdet.Detector(model, backend=name)


def test_forced_gpu_backend_with_cpu_device(model):
    with pytest.raises(ValueError, match="runs on a GPU"):
        fastdet.Detector(model, backend="tensorrt", device="cpu")


def test_cuda_device_without_gpu(model, monkeypatch, no_gpu):
    hide(monkeypatch, "tensorrt")
    with pytest.raises(BackendUnavailable, match="no backend can run here .*tensorrt: .*onnxruntime-cuda: "):
        fastdet.Detector(model, device="cuda")


def test_info_lists_gpu_backends(model, monkeypatch, no_gpu, capsys):
    hide(monkeypatch, "tensorrt")
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "tensorrt           unavailable: the tensorrt package is not installed" in out
    assert "onnxruntime-cuda   unavailable: no CUDA GPU found" in out


@pytest.mark.parametrize("text, expected", [("8", (8, 8, 8)), ("1:8:32", (1, 8, 32)), ("1:1:1", (1, 1, 1)),
                                            ("2:2:4", (2, 2, 4))])
def test_parse_batch(text, expected):
    assert parse_batch(text) == expected


def test_build_arguments():
    args = build_parser().parse_args(["build", "m.onnx", "--batch", "1:8:32", "--fp32", "--workspace", "512",
                                      "--cache", "engines", "--device", "cuda:1"])
    assert (args.model, args.batch, args.precision, args.workspace, args.cache, args.device) == \
        ("m.onnx", (1, 8, 32), "fp32", 512, "engines", "cuda:1")
    args = build_parser().parse_args(["build", "m.onnx"])
    assert (args.batch, args.precision, args.workspace, args.cache) == (None, None, None, None)
    assert build_parser().parse_args(["build", "m.onnx", "--fp16"]).precision == "fp16"


@pytest.mark.parametrize("argv, message", [
    (["--batch", "8:1:32"], "MIN <= OPT <= MAX"),
    (["--batch", "0:1:2"], "MIN <= OPT <= MAX"),
    (["--batch", "1:8"], "got '1:8'"),
    (["--batch", "a:b:c"], "got 'a:b:c'"),
    (["--batch", "1:2:3:4"], "got '1:2:3:4'"),
    (["--workspace", "-5"], "positive number of MiB"),
    (["--workspace", "lots"], "positive number of MiB"),
    (["--fp16", "--fp32"], "not allowed with argument"),
])
def test_build_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["build", "m.onnx", *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_build_without_tensorrt_explains(model, monkeypatch, capsys):
    hide(monkeypatch, "tensorrt")
    assert main(["build", str(model), "--batch", "1:8:32"]) == 2
    assert "cannot build TensorRT engines here: the tensorrt package is not installed" in capsys.readouterr().err


def test_build_missing_model(capsys):
    assert main(["build", "no-such-model.onnx"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_profile_for(model, static_model):
    dynamic = tensorrt.describe_model(model)
    static = tensorrt.describe_model(static_model)
    assert tensorrt.profile_for(dynamic, None) == (1, 1, 1)
    assert tensorrt.profile_for(dynamic, 4) == (4, 4, 4)
    assert tensorrt.profile_for(dynamic, (1, 8, 32)) == (1, 8, 32)
    assert tensorrt.profile_for(static, None) == (1, 1, 1)
    with pytest.raises(ValueError, match="static batch of 1"):
        tensorrt.profile_for(static, (1, 8, 32))
    for bad in [(8, 1, 32), (0, 1, 1), (1, 2)]:
        with pytest.raises(ValueError, match="1 <= min <= opt <= max"):
            tensorrt.profile_for(dynamic, bad)


@pytest.mark.parametrize("device, index", [(None, 0), ("cuda", 0), ("cuda:3", 3)])
def test_device_index(device, index):
    assert device_engine.device_index(device) == index


@pytest.mark.parametrize("device", ["cpu", "cuda:x", "gpu0", "cuda:"])
def test_device_index_rejects(device):
    with pytest.raises(ValueError, match="device: expected"):
        device_engine.device_index(device)


class _RecordingEngine(device_engine.DeviceEngine):
    graph_capturable = True

    def __init__(self):
        self.calls = []

    def input_spec(self, batch):
        return device_engine.TensorSpec("images", np.dtype(np.float32), (batch, 3, 64, 64))

    def output_spec(self, batch):
        return device_engine.TensorSpec("output0", np.dtype(np.float16), (batch, 84, 8400))

    def enqueue(self, input_ptr, output_ptr, stream_handle, batch):
        self.calls.append((input_ptr, output_ptr, stream_handle, batch))


def test_enqueue_fn_fixes_the_batch():
    engine = _RecordingEngine()
    engine.enqueue_fn(4)(0x1000, 0x2000, 7)
    assert engine.calls == [(0x1000, 0x2000, 7, 4)]
    assert engine.output_spec(2).nbytes == 2 * 84 * 8400 * 2


def test_pipeline_glue(monkeypatch):
    """How a DeviceEngine is handed to the CUDA pipeline's CallableEngine (our seam, no GPU)."""
    class CallableEngine:
        def __init__(self, fn, capturable=False):
            self.fn, self.capturable = fn, capturable

    monkeypatch.setattr(_core, "cuda", type("cuda", (), {"CallableEngine": CallableEngine}), raising=False)
    engine = _RecordingEngine()
    wrapped = device_engine.pipeline_engine(engine)
    assert device_engine.pipeline_available() and wrapped.capturable is True
    wrapped.fn(1, 2, 3, 8)
    assert engine.calls == [(1, 2, 3, 8)]
    monkeypatch.setattr(_core, "cuda", None, raising=False)
    assert not device_engine.pipeline_available()
    with pytest.raises(RuntimeError, match="no CUDA pipeline"):
        device_engine.pipeline_engine(engine)
