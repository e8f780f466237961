"""The machine a benchmark ran on: CPU, cores, GPU, package versions (recorded in its JSON)."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def cpu_model() -> str:
    """The CPU's marketing name where the OS says it, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (affinity / container limits where the OS reports them)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Versions of fastdet and what it runs on (None when not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    from .. import __version__

    out["fastdet"] = __version__
    import numpy

    out["numpy"] = numpy.__version__
    try:
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        out["onnxruntime"] = None
    try:
        import cv2

        out["opencv"] = cv2.__version__
    except ImportError:
        out["opencv"] = None
    for dist in ("onnxruntime-gpu", "tensorrt", "cupy", "torch", "torchvision", "ultralytics"):
        v = _version(dist)
        if v:
            out[dist] = v
    return out


def gpus() -> list[str]:
    """Names of the GPUs fastdet's CUDA build sees (empty without CUDA or GPU)."""
    from .. import _core

    try:
        if not _core.cuda_available():
            return []
        return [str(_core.cuda_device_name(i)) for i in range(int(_core.cuda_device_count()))]
    except RuntimeError:
        return []


def describe() -> dict[str, Any]:
    """Everything above, as one JSON-ready dict."""
    from .. import _core

    return {
        "platform": platform.platform(),
        "python_implementation": sys.implementation.name,
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cores(),
        "fastdet_threads": int(_core.num_threads()),
        "fastdet_built_with_cuda": bool(_core.built_with_cuda),
        "gpus": gpus(),
        "versions": versions(),
    }
