"""What every inference backend provides to the Detector."""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod

import numpy as np

from ..errors import BackendUnavailable  # noqa: F401  (re-exported: backends import it from here)
from ..model import ModelInfo


def installed(package: str) -> bool:
    """True when ``package`` can be imported, found without importing it (backends' availability
    checks must not load a GPU runtime just to report on it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ValueError, ImportError):  # a broken install, or a parent package that fails to import
        return False


class Backend(ABC):
    """Runs a detector's network on letterboxed input.

    The Detector letterboxes straight into ``input_buffer(batch)`` (no copy) and then calls
    ``run(batch)``, which returns the raw head output. Both arrays are owned by the backend and
    reused by the next call: read the output before calling again.
    """

    #: "onnxruntime-cpu", "onnxruntime-cuda" or "tensorrt".
    name: str
    info: ModelInfo

    @property
    def max_batch(self) -> int | None:
        """Largest batch one run accepts: the static batch, or None when unbounded."""
        return self.info.input_shape[0]

    @property
    def static_batch(self) -> int | None:
        """The batch every run must have (a model exported with a fixed batch), else None."""
        return self.info.input_shape[0]

    @abstractmethod
    def input_buffer(self, batch: int) -> np.ndarray:
        """float32[batch, 3, H, W], C-contiguous, reused across calls."""

    @abstractmethod
    def run(self, batch: int) -> np.ndarray:
        """Runs on the first ``batch`` images of ``input_buffer(batch)``; returns float32 raw output."""
