"""What every inference backend provides to the Detector."""

from __future__ import annotations

import importlib.util
import threading
from abc import ABC, abstractmethod

import numpy as np

from ..errors import BackendUnavailable  # noqa: F401  (re-exported: backends import it from here)
from ..model import ModelInfo
from .slots import Lease


def installed(package: str) -> bool:
    """True when ``package`` can be imported, found without importing it (backends' availability
    checks must not load a GPU runtime just to report on it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ValueError, ImportError):  # a broken install, or a parent package that fails to import
        return False


class Backend(ABC):
    """Runs a detector's network on letterboxed input.

    The Detector takes a ``lease(batch)``, letterboxes straight into ``lease.input`` (no copy),
    calls ``lease.run()``, which returns the raw head output, decodes it and releases the lease.
    Both arrays belong to the lease until it is released.
    """

    #: "onnxruntime-cpu", "onnxruntime-cuda" or "tensorrt".
    name: str
    info: ModelInfo
    #: True when leases taken by different threads run inference at the same time (one shared
    #: session, buffers per lease); False when calls take turns.
    concurrent: bool = False

    @property
    def max_batch(self) -> int | None:
        """Largest batch one run accepts: the static batch, or None when unbounded."""
        return self.info.input_shape[0]

    @property
    def static_batch(self) -> int | None:
        """The batch every run must have (a model exported with a fixed batch), else None."""
        return self.info.input_shape[0]

    @property
    def min_batch(self) -> int:
        """Smallest batch one run accepts (a TensorRT profile may start above 1): a shorter
        chunk is padded up to it, and the padding's results dropped."""
        return self.static_batch or 1

    @abstractmethod
    def lease(self, batch: int) -> Lease:
        """Buffers for one call of ``batch`` images: ``input`` float32[batch, 3, H, W] and ``run()``."""


class _OwnBuffers:
    """A SerialBackend's buffers seen as one slot."""

    __slots__ = ("backend",)

    def __init__(self, backend: SerialBackend) -> None:
        self.backend = backend

    def input_for(self, batch: int) -> np.ndarray:
        return self.backend.input_buffer(batch)

    def run(self, batch: int) -> np.ndarray:
        return self.backend.run(batch)


class SerialBackend(Backend):
    """A backend with one set of reusable buffers per batch size (and, on a GPU, one stream):
    leases take turns, one call at a time."""

    def lease(self, batch: int) -> Lease:
        state = self.__dict__.setdefault("_turn", (threading.Lock(), _OwnBuffers(self)))
        turn, buffers = state
        turn.acquire()
        try:
            return Lease(buffers, batch, lambda _slot: turn.release())
        except BaseException:
            turn.release()
            raise

    @abstractmethod
    def input_buffer(self, batch: int) -> np.ndarray:
        """float32[batch, 3, H, W], C-contiguous, reused across calls."""

    @abstractmethod
    def run(self, batch: int) -> np.ndarray:
        """Runs on the first ``batch`` images of ``input_buffer(batch)``; returns float32 raw output."""
