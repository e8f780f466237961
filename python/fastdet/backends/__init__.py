"""Backend choice: TensorRT -> ONNX Runtime CUDA -> PyTorch (GPU only) -> ONNX Runtime CPU.

``create("auto", ...)`` takes the first backend that can run here and logs its choice at
INFO, and why each earlier one was skipped at DEBUG. A named backend is used or fails with
``BackendUnavailable`` saying why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from . import onnxruntime_cpu, onnxruntime_cuda, pytorch, tensorrt
from .base import Backend, BackendUnavailable
from .device_engine import gpu_unavailable_reason

log = logging.getLogger("fastdet")

# name -> (reason-it-is-unavailable function, factory)
_REGISTRY: dict[str, tuple[Callable[[], str | None], Callable[..., Backend]]] = {
    "onnxruntime-cpu": (onnxruntime_cpu.unavailable_reason, onnxruntime_cpu.OnnxRuntimeCPU),
}

#: Preference order of ``backend="auto"``.
AUTO_ORDER: list[str] = ["onnxruntime-cpu"]

CPU_BACKENDS = {"onnxruntime-cpu"}

#: Backends that run on the CPU or a GPU (given ``device``), but that ``"auto"`` takes only where
#: fastdet's CUDA build sees a GPU: on a CPU they are slower than ONNX Runtime.
ANY_DEVICE_BACKENDS = {"torch"}


def register(name: str, unavailable_reason: Callable[[], str | None], factory: Callable[..., Backend],
             *, before: str | None = None) -> None:
    """Adds a backend to the registry and to the auto order (before ``before``, else last)."""
    _REGISTRY[name] = (unavailable_reason, factory)
    if name not in AUTO_ORDER:
        AUTO_ORDER.insert(AUTO_ORDER.index(before) if before in AUTO_ORDER else len(AUTO_ORDER), name)


def names() -> list[str]:
    return list(AUTO_ORDER)


def availability() -> dict[str, str | None]:
    """Backend name -> None when usable here, else the reason it is not."""
    return {name: _REGISTRY[name][0]() for name in AUTO_ORDER}


def gpu_availability() -> dict[str, str | None]:
    """GPU backend name -> None when it can run on a GPU here, else the reason it cannot."""
    out = {}
    for name, reason in availability().items():
        if name in CPU_BACKENDS:
            continue
        out[name] = reason or (gpu_unavailable_reason() if name in ANY_DEVICE_BACKENDS else None)
    return out


def create(name: str, path: Path, *, device: str | None = None, **kw: Any) -> Backend:
    """Creates backend ``name`` ("auto" for the first usable one) for the model at ``path``.

    device: None for any, "cpu" to stay on the CPU, "cuda" / "cuda:N" for a GPU backend.
    """
    if name != "auto":
        if name not in _REGISTRY:
            raise ValueError(f"backend: expected 'auto' or one of {names()}, got {name!r}")
        if device == "cpu" and name not in CPU_BACKENDS | ANY_DEVICE_BACKENDS:
            raise ValueError(f"backend {name!r} runs on a GPU, but device='cpu' was asked for")
        reason = _REGISTRY[name][0]()
        if reason:
            raise BackendUnavailable(f"backend {name!r} is not available: {reason}")
        return _REGISTRY[name][1](path, device=device, **kw) if name not in CPU_BACKENDS else _REGISTRY[name][1](path, **kw)
    order = [n for n in AUTO_ORDER if device != "cpu" or n in CPU_BACKENDS]
    if device is not None and device.startswith("cuda"):
        order = [n for n in order if n not in CPU_BACKENDS]
    skipped = []
    for candidate in order:
        reason = _REGISTRY[candidate][0]()
        if not reason and candidate in ANY_DEVICE_BACKENDS:
            reason = gpu_unavailable_reason()
        if reason:
            log.debug("backend %s skipped: %s", candidate, reason)
            skipped.append(f"{candidate}: {reason}")
            continue
        factory = _REGISTRY[candidate][1]
        backend = factory(path, **kw) if candidate in CPU_BACKENDS else factory(path, device=device, **kw)
        log.info("backend: %s", candidate)
        return backend
    raise BackendUnavailable("no backend can run here (" + "; ".join(skipped) + ")")


# GPU backends: their modules import nothing heavy until a backend is created.
register("onnxruntime-cuda", onnxruntime_cuda.unavailable_reason, onnxruntime_cuda.OnnxRuntimeCUDA,
         before="onnxruntime-cpu")
register("tensorrt", tensorrt.unavailable_reason, tensorrt.TensorRT, before="onnxruntime-cuda")
register("torch", pytorch.unavailable_reason, pytorch.Torch, before="onnxruntime-cpu")


__all__ = ["Backend", "BackendUnavailable", "availability", "create", "gpu_availability", "names", "register"]
