"""Device engines: inference that reads and writes device memory on a caller's CUDA stream.

The CUDA pipeline owns the buffers and the stream: its letterbox kernel writes the engine's input
binding, the engine enqueues its work on the same stream, its decode + NMS kernel reads the output
binding. An engine therefore only needs one call,

    enqueue(input_ptr: int, output_ptr: int, stream_handle: int) -> None

for a fixed batch (the pipeline sizes its buffers once per batch): ``DeviceEngine.enqueue_fn(batch)``
returns that call, and ``DeviceEngine.enqueue(input_ptr, output_ptr, stream_handle, batch)`` is the
same with the batch passed per call. The first call for a batch must run outside CUDA graph capture (a warm-up: the
runtime may allocate or resolve shapes there); later calls can be captured when
``graph_capturable`` is True.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import _core
from ..devices import cuda_index
from ..errors import BackendUnavailable

Enqueue = Callable[[int, int, int], None]


def gpu_unavailable_reason() -> str | None:
    """None when fastdet's CUDA build sees a GPU, else why not."""
    if not getattr(_core, "built_with_cuda", False):
        return "fastdet was built without CUDA (no CUDA compiler was found when it was built)"
    if not _core.cuda_available():
        return "no CUDA GPU found"
    return None


def device_index(device: str | None) -> int:
    """device: None or "cuda" (GPU 0), or "cuda:N". Returns N (``fastdet.devices`` parses it)."""
    return cuda_index(device)


@dataclass(frozen=True)
class TensorSpec:
    """One engine binding at a given batch: name, element type (float32 or float16) and shape."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize


class DeviceEngine(ABC):
    """An engine the CUDA pipeline can drive with device pointers and its stream."""

    #: True when enqueue() may be recorded into a CUDA graph after a warm-up call.
    graph_capturable: bool

    @abstractmethod
    def input_spec(self, batch: int) -> TensorSpec:
        """The input binding the pipeline's letterbox kernel must fill: [batch, 3, H, W]."""

    @abstractmethod
    def output_spec(self, batch: int) -> TensorSpec:
        """The raw head output the decode kernel reads."""

    @abstractmethod
    def enqueue(self, input_ptr: int, output_ptr: int, stream_handle: int, batch: int) -> None:
        """Queues inference of ``batch`` images on the stream; never synchronises with the host."""

    def enqueue_fn(self, batch: int) -> Enqueue:
        """The enqueue(input_ptr, output_ptr, stream_handle) call for a fixed ``batch``."""

        def enqueue(input_ptr: int, output_ptr: int, stream_handle: int) -> None:
            self.enqueue(input_ptr, output_ptr, stream_handle, batch)

        return enqueue


# ---------------------------------------------------------------------------------------------
# Pipeline glue: the one place that knows how fastdet._core's CUDA pipeline takes an engine.
# The pipeline's binding (a CallableEngine in _core.cuda wrapping fn(input_ptr, output_ptr,
# stream, batch) and a capturable flag) is being written alongside; until a build has it, GPU
# backends run through the Backend ABC's host buffers instead.
# ---------------------------------------------------------------------------------------------


def _callable_engine_type() -> Any:
    return getattr(getattr(_core, "cuda", None), "CallableEngine", None)


def pipeline_available() -> bool:
    """True when this build of fastdet._core has the CUDA pipeline's CallableEngine."""
    return _callable_engine_type() is not None


def pipeline_engine(engine: DeviceEngine) -> Any:
    """Wraps ``engine`` for the CUDA pipeline (a ``_core.cuda.CallableEngine``)."""
    kind = _callable_engine_type()
    if kind is None:
        raise BackendUnavailable("this build of fastdet has no CUDA pipeline (fastdet._core.cuda.CallableEngine)")
    return kind(engine.enqueue, engine.graph_capturable)
