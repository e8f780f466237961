"""fastdet: a fast, exact core for YOLO-family object detectors.

    import fastdet, cv2
    dets = fastdet.detect(cv2.imread("examples/astronaut.jpg"))  # the embedded model; model=... for yours
    for box in dets:
        print(box.name, box.score, box.x1, box.y1, box.x2, box.y2)
"""

from __future__ import annotations

from importlib import metadata as _metadata

from . import _core
from .batching import BatchingDetector
from .detector import Detector, detect
from .errors import (BackendUnavailable, Closed, CudaError, EngineError, Error, InputError, InputTypeError,
                     ModelError, QueueFull, RequestTimeout, SourceError, UnsafeCacheError)
from .model import ModelInfo
from .preprocess import letterbox
from .recipes import make_recipe
from .results import Box, Detections
from .stream import StreamItem

try:
    __version__ = _metadata.version("fastdet")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

Recipe = _core.Recipe
Geometry = _core.Geometry
nms = _core.nms


def cuda_available() -> bool:
    """True only when fastdet was built with CUDA and a usable GPU is present at run time."""
    return bool(_core.cuda_available())


__all__ = [
    "BackendUnavailable",
    "BatchingDetector",
    "Box",
    "Closed",
    "CudaError",
    "Detections",
    "Detector",
    "EngineError",
    "Error",
    "Geometry",
    "InputError",
    "InputTypeError",
    "ModelError",
    "ModelInfo",
    "Monitor",
    "QueueFull",
    "Recipe",
    "RequestTimeout",
    "SourceError",
    "StreamItem",
    "UnsafeCacheError",
    "cuda_available",
    "detect",
    "letterbox",
    "make_recipe",
    "nms",
]


def __getattr__(name: str):
    # The drift monitor pulls in scipy: loaded on first use, not with every `import fastdet`.
    if name == "Monitor":
        from .quality.monitor import Monitor

        return Monitor
    raise AttributeError(f"module 'fastdet' has no attribute {name!r}")


def __dir__() -> list[str]:
    # dir() ignores __all__: without this it lists every submodule and helper import too.
    return sorted([*__all__, "__version__"])
