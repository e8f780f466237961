"""ONNX Runtime with the CUDA execution provider (the ``onnxruntime-gpu`` package).

Two ways in:
- ``OnnxRuntimeCUDA`` (the Backend ABC): host input and output buffers bound with I/O binding;
  ONNX Runtime copies the input to the GPU and the output back into our reused buffer.
- ``OnnxRuntimeCUDAEngine`` (a DeviceEngine for the CUDA pipeline): input and output bound to the
  pipeline's device buffers, the session created on the pipeline's stream
  (``user_compute_stream``) and run without a host synchronisation, so nothing is copied.
  ONNX Runtime allocates inside a run, so this engine cannot be captured into a CUDA graph.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..model import ModelError, describe_session
from .base import BackendUnavailable
from .device_engine import DeviceEngine, TensorSpec, device_index, gpu_unavailable_reason
from .onnxruntime_cpu import OnnxRuntimeCPU, open_session, session_options

PROVIDER = "CUDAExecutionProvider"


def unavailable_reason() -> str | None:
    """None when this backend can run here, else why not."""
    try:
        found = importlib.util.find_spec("onnxruntime") is not None
    except (ValueError, ImportError):
        found = False
    if not found:
        return "onnxruntime-gpu is not installed (pip install 'fastdet[gpu]')"
    reason = gpu_unavailable_reason()
    if reason:
        return reason
    import onnxruntime as ort

    if PROVIDER not in ort.get_available_providers():
        return (f"the installed onnxruntime has no {PROVIDER} (the CPU-only package is installed: "
                "pip uninstall onnxruntime && pip install onnxruntime-gpu)")
    return None


def open_cuda_session(path: Path, device: str | None, stream_handle: int | None = None,
                      threads: int | None = None) -> Any:
    """A session whose first provider is CUDA on ``device``, optionally on a caller's stream."""
    options: dict[str, str] = {"device_id": str(device_index(device))}
    if stream_handle is not None:
        options["has_user_compute_stream"] = "1"
        options["user_compute_stream"] = str(int(stream_handle))
    session = open_session(path, [(PROVIDER, options), "CPUExecutionProvider"], session_options(threads))
    if session.get_providers()[0] != PROVIDER:
        # onnxruntime falls back to the CPU when the CUDA provider cannot load (CUDA / cuDNN libraries).
        raise BackendUnavailable(f"onnxruntime could not start its {PROVIDER} (missing CUDA or cuDNN "
                                 "libraries? onnxruntime's warnings above say which)")
    return session


class OnnxRuntimeCUDA(OnnxRuntimeCPU):
    """ONNX Runtime CUDA via the Backend ABC: the CPU backend's reused host buffers and I/O
    binding (onnxruntime copies them to and from the device), on a CUDA session."""

    name = "onnxruntime-cuda"

    def __init__(self, path: Path, *, device: str | None = None, threads: int | None = None,
                 **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        self.session = open_cuda_session(path, device, threads=threads)
        self.info = describe_session(path, self.session, **model_kw)
        self._inputs: dict[int, np.ndarray] = {}
        self._bound: dict[int, tuple[Any, np.ndarray]] = {}


class OnnxRuntimeCUDAEngine(DeviceEngine):
    """A session on the pipeline's stream, run on its device buffers (one I/O binding per thread)."""

    graph_capturable = False

    def __init__(self, path: Path, stream_handle: int, *, device: str | None = None, **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        import onnxruntime as ort

        self.stream_handle = int(stream_handle)
        self.device_id = device_index(device)
        self.session = open_cuda_session(path, device, self.stream_handle)
        self.info = describe_session(path, self.session, **model_kw)
        if any(d is None for d in self.info.output_shape[1:]):
            raise ModelError(f"{path.name}: output shape {self.info.output_shape} is dynamic beyond the batch "
                             "axis; the device path needs it fixed")
        self._run_options = ort.RunOptions()
        # Let the pipeline synchronise once at the end instead of onnxruntime after every run.
        self._run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        self._local = threading.local()

    def input_spec(self, batch: int) -> TensorSpec:
        h, w = self.info.input_hw
        return TensorSpec(self.info.input_name, np.dtype(np.float32), (batch, 3, h, w))

    def output_spec(self, batch: int) -> TensorSpec:
        return TensorSpec(self.info.output_name, np.dtype(np.float32), (batch, *self.info.output_shape[1:]))

    def enqueue(self, input_ptr: int, output_ptr: int, stream_handle: int, batch: int) -> None:
        if int(stream_handle) != self.stream_handle:
            raise ValueError("onnxruntime-cuda: the session was created on another CUDA stream; "
                             "create the engine with the pipeline's stream")
        io = getattr(self._local, "io", None)
        if io is None:
            io = self._local.io = self.session.io_binding()
        i, o = self.input_spec(batch), self.output_spec(batch)
        io.bind_input(i.name, "cuda", self.device_id, np.float32, list(i.shape), int(input_ptr))
        io.bind_output(o.name, "cuda", self.device_id, np.float32, list(o.shape), int(output_ptr))
        self.session.run_with_iobinding(io, self._run_options)
