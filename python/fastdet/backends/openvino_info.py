"""What ``fastdet info`` says about OpenVINO: its version, the CPU it runs on, the precision it
runs fp32 models in there, and the ModelInfo of an IR (which onnxruntime cannot read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model import ModelInfo
from .openvino import unavailable_reason
from .openvino_core import shared_core
from .openvino_model import is_ir, read

__all__ = ["describe", "is_ir", "runtime", "summary"]


def _type_name(value: Any) -> str:
    """``openvino.Type.bf16`` -> "bf16" (its str() is "<Type: 'bfloat16'>")."""
    name = getattr(value, "to_string", None)
    return name() if callable(name) else str(value)


def runtime() -> dict[str, Any] | None:
    """{version, device, capabilities, default_precision}, or None where openvino is missing."""
    if unavailable_reason():
        return None
    import openvino as ov

    core = shared_core()
    return {
        "version": ov.get_version().split("-")[0],
        "device": str(core.get_property("CPU", "FULL_DEVICE_NAME")),
        "capabilities": [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")],
        "default_precision": _type_name(core.get_property("CPU", "INFERENCE_PRECISION_HINT")),
    }


def summary() -> str:
    """One line: "2026.4.1 on CPU (Intel(R) Xeon(R) ...): fp32 models run in bf16; int8, bf16, ..."."""
    reason = unavailable_reason()
    if reason:
        return f"unavailable: {reason}"
    r = runtime()
    assert r is not None
    return (f"{r['version']} on CPU ({r['device']}): fp32 models run in {r['default_precision']} by default; "
            f"supports {', '.join(c.lower() for c in r['capabilities'])}")


def describe(path: Path) -> ModelInfo:
    """ModelInfo of an ONNX file, IR or export folder, read with OpenVINO."""
    return read(shared_core(), path).info
