"""ONNX Runtime with the CUDA execution provider (the ``onnxruntime-gpu`` package).

``OnnxRuntimeCUDA`` runs through the Backend ABC: host input and output buffers bound with I/O
binding; ONNX Runtime copies the input to the GPU and the output back into our reused buffer.
It is not a device engine of the CUDA pipeline: a session bound to the pipeline's stream would
have to be created after the pipeline (ONNX Runtime fixes a session's stream at creation), and
no GPU machine this project is tested on has onnxruntime-gpu to prove such a path, so the CUDA
pipeline is driven by TensorRT or PyTorch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model import describe_session
from .base import BackendUnavailable, installed
from .device_engine import device_index, gpu_unavailable_reason
from .onnxruntime_cpu import OnnxRuntimeCPU, open_session, session_options
from .options import OnnxRuntimeOptions

PROVIDER = "CUDAExecutionProvider"


def unavailable_reason() -> str | None:
    """None when this backend can run here, else why not."""
    if not installed("onnxruntime"):
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
    binding (onnxruntime copies them to and from the device), on a CUDA session. Calls take
    turns (one slot): concurrent runs on one CUDA session have not been proven on a GPU here."""

    name = "onnxruntime-cuda"
    concurrent = False

    def __init__(self, path: Path, *, device: str | None = None, options: OnnxRuntimeOptions | None = None,
                 **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        options = options or OnnxRuntimeOptions()
        self.session = open_cuda_session(path, device, threads=options.threads)
        self.info = describe_session(path, self.session, **model_kw)
        self._init_slots(limit=1)
