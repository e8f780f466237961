"""Backend choice: TensorRT -> ONNX Runtime CUDA -> PyTorch (GPU only) -> OpenVINO (CPU) -> ONNX Runtime CPU.

``create("auto", ...)`` takes the first backend that can run here and logs its choice at
INFO, and why each earlier one was skipped at DEBUG. A named backend is used or fails with
``BackendUnavailable`` saying why. An OpenVINO IR (``.xml`` or an export folder) is read by the
OpenVINO backend only.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable

from . import onnxruntime_cpu, onnxruntime_cuda, openvino, pytorch, tensorrt
from ..devices import parse_device
from ..errors import InputError, InputTypeError
from .base import Backend, BackendUnavailable
from .device_engine import gpu_unavailable_reason
from .openvino_model import is_ir

log = logging.getLogger("fastdet")

# name -> (reason-it-is-unavailable function, factory)
_REGISTRY: dict[str, tuple[Callable[[], str | None], Callable[..., Backend]]] = {
    "onnxruntime-cpu": (onnxruntime_cpu.unavailable_reason, onnxruntime_cpu.OnnxRuntimeCPU),
}

#: Preference order of ``backend="auto"``.
AUTO_ORDER: list[str] = ["onnxruntime-cpu"]

CPU_BACKENDS = {"onnxruntime-cpu", "openvino-cpu"}

#: Backends that read OpenVINO IR as well as ONNX.
IR_BACKENDS = {"openvino-cpu"}

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


#: Model options every backend takes (how to read the model), passed through as they are.
MODEL_OPTIONS = ("head", "recipe", "names")


def _build(name: str, path: Path, device: str | None, model_kw: dict[str, Any], backend_kw: dict[str, Any]) -> Backend:
    factory = _REGISTRY[name][1]
    options_type = getattr(factory, "Options", None)
    if options_type is None:  # a registered factory without typed options takes none
        if backend_kw:
            raise InputError(f"{sorted(backend_kw)[0]}: not an option of backend {name!r} (it takes no options)")
        return factory(path, device=device, **model_kw) if name not in CPU_BACKENDS else factory(path, **model_kw)
    options = options_type.build(name, backend_kw)
    if name in CPU_BACKENDS:
        return factory(path, options=options, **model_kw)
    return factory(path, device=device, options=options, **model_kw)


def _check_options_known(backend_kw: dict[str, Any], order: list[str]) -> None:
    """An option no candidate backend takes is a typo: say so before trying any of them."""
    known: set[str] = set()
    for n in order:
        options_type = getattr(_REGISTRY[n][1], "Options", None)
        if options_type is not None:
            known |= {f.name for f in dataclasses.fields(options_type)}
    unknown = sorted(set(backend_kw) - known)
    if unknown:
        raise InputError(f"{unknown[0]}: not an option of any backend here (options: {', '.join(sorted(known))})")


def describe(path: Path) -> Any:  # -> ModelInfo
    """What fastdet reads from a model (input, head, names, recipe) without running it: OpenVINO
    for an IR or export folder, else ONNX Runtime on the CPU, unoptimised. The one way ``fastdet
    info``, ``fastdet serve --dry-run`` and ``registry add`` look at a model."""
    if is_ir(path):
        from .openvino_info import describe as describe_ir

        return describe_ir(path)
    return onnxruntime_cpu.describe_model(path)


def create(name: str, path: Path, *, device: str | None = None, **kw: Any) -> Backend:
    """Creates backend ``name`` ("auto" for the first usable one) for the model at ``path``.

    device: None for any, "cpu" to stay on the CPU, "cuda" / "cuda:N" for a GPU backend.
    kw: the model options (head, recipe, names) and the chosen backend's typed options (see
    ``fastdet.backends.options``); an option the chosen backend does not take is an InputError.
    """
    if not isinstance(name, str):
        raise InputTypeError(f"backend: expected a backend name (str), got {type(name).__name__}")
    device = parse_device(device)
    model_kw = {k: kw.pop(k) for k in MODEL_OPTIONS if k in kw}
    if name != "auto":
        if name not in _REGISTRY:
            raise InputError(f"backend: expected 'auto' or one of {names()}, got {name!r}")
        if device == "cpu" and name not in CPU_BACKENDS | ANY_DEVICE_BACKENDS:
            raise InputError(f"backend {name!r} runs on a GPU, but device='cpu' was asked for")
        if device is not None and device != "cpu" and name in CPU_BACKENDS:
            raise InputError(f"backend {name!r} runs on the CPU, but device={device!r} asks for a GPU")
        if name not in IR_BACKENDS and is_ir(path):
            raise InputError(f"backend {name!r} reads ONNX files, and {path.name} is an OpenVINO IR: "
                             f"use backend='openvino-cpu' (or 'auto'), or pass the ONNX file")
        reason = _REGISTRY[name][0]()
        if reason:
            raise BackendUnavailable(f"backend {name!r} is not available: {reason}")
        return _build(name, path, device, model_kw, kw)
    order = [n for n in AUTO_ORDER if device != "cpu" or n in CPU_BACKENDS]
    if device is not None and device.startswith("cuda"):
        order = [n for n in order if n not in CPU_BACKENDS]
    _check_options_known(kw, order)
    skipped = []
    ir = is_ir(path)
    for candidate in order:
        reason = "reads ONNX files only, not OpenVINO IR" if ir and candidate not in IR_BACKENDS else _REGISTRY[candidate][0]()
        if not reason and candidate in ANY_DEVICE_BACKENDS:
            reason = gpu_unavailable_reason()
        if reason:
            log.debug("backend %s skipped: %s", candidate, reason)
            skipped.append(f"{candidate}: {reason}")
            continue
        backend = _build(candidate, path, device, model_kw, kw)
        log.info("backend: %s", candidate)
        return backend
    raise BackendUnavailable("no backend can run here (" + "; ".join(skipped) + ")")


# GPU backends: their modules import nothing heavy until a backend is created.
register("onnxruntime-cuda", onnxruntime_cuda.unavailable_reason, onnxruntime_cuda.OnnxRuntimeCUDA,
         before="onnxruntime-cpu")
register("tensorrt", tensorrt.unavailable_reason, tensorrt.TensorRT, before="onnxruntime-cuda")
register("torch", pytorch.unavailable_reason, pytorch.Torch, before="onnxruntime-cpu")
register("openvino-cpu", openvino.unavailable_reason, openvino.OpenVINOCPU, before="onnxruntime-cpu")


__all__ = ["Backend", "BackendUnavailable", "availability", "create", "gpu_availability", "names", "register"]
