"""The Detector's GPU path: frames -> CUDA letterbox -> device engine -> CUDA decode + NMS.

Used when the backend exposes a ``DeviceEngine`` (TensorRT, PyTorch) and this build has the CUDA
pipeline: the letterbox kernel writes the engine's input binding and the decode kernel reads
its output binding, with one host synchronisation per call and a CUDA graph per shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Sequence

import numpy as np

from . import _core
from .backends.base import Backend
from .backends.device_engine import DeviceEngine, device_index, pipeline_available, pipeline_engine
from .errors import InputError, ModelError
from .model import ModelInfo

log = logging.getLogger("fastdet")


def is_device_array(frame: Any) -> bool:
    """True for CuPy / PyTorch CUDA arrays (objects with ``__cuda_array_interface__``)."""
    return hasattr(frame, "__cuda_array_interface__")


def _is_torch_tensor(frame: Any) -> bool:
    torch = sys.modules.get("torch")  # a frame that is a tensor means torch is imported already
    return torch is not None and isinstance(frame, torch.Tensor)  # subclasses too (torchvision's tv_tensors)


def producer_stream(frames: Any) -> int:
    """The stream the pipeline must wait for before reading ``frames`` (one frame or a list; 0:
    none beyond what each array's own ``__cuda_array_interface__`` names).

    PyTorch's interface (version 2) carries no stream, so a tensor written on a side stream
    would be read before it is ready: take the caller's current torch stream on the tensors'
    device, where torch code produces its results (the same stream for every tensor of the call,
    wherever it stands in the list). CuPy's (version 3) names its stream itself.
    """
    tensor = next((f for f in (frames if isinstance(frames, (list, tuple)) else [frames]) if _is_torch_tensor(f)),
                  None)
    if tensor is None:
        return 0
    torch = sys.modules["torch"]
    return int(torch.cuda.current_stream(tensor.device).cuda_stream)


class GpuPath:
    """A CudaPipeline bound to one backend's device engine."""

    def __init__(self, backend: Backend, info: ModelInfo, options: _core.DecodeOptions,
                 classes: list[int] | None, device: str | None, use_graphs: bool = True) -> None:
        engine: DeviceEngine = backend.engine  # type: ignore[attr-defined]
        if hasattr(engine, "use_graphs"):  # an engine that captures itself (torch) follows the Detector
            engine.use_graphs = engine.use_graphs and use_graphs
        # A static-batch engine only knows its own batch: ask for its bindings at that batch.
        probe = backend.static_batch or backend.min_batch
        self.static_batch = backend.static_batch
        self.min_batch = backend.min_batch
        out_shape = tuple(engine.output_spec(probe).shape)
        per_image = int(np.prod(out_shape[1:])) if len(out_shape) > 1 else 0
        if per_image != info.head.image_stride:
            # The decode kernel reads image_stride values per image from the engine's output
            # binding: a different layout would be read wrong, or past its end.
            raise ModelError(f"{info.path.name}: the engine's output {out_shape} does not hold the head's "
                             f"{info.head.image_stride} values per image")
        self.pipeline = _core.cuda.CudaPipeline(
            pipeline_engine(engine), info.head, info.input_hw, info.recipe, options, classes,
            input_dtype=engine.input_spec(probe).dtype.name, output_dtype=engine.output_spec(probe).dtype.name,
            device=device_index(device), use_graphs=use_graphs)
        self._capture_failures = 0
        self._name = info.path.name
        self._options_key = _options_key(options, classes)

    @staticmethod
    def usable(backend: Backend, device: str | None) -> bool:
        """The backend drives a device engine, the build has the pipeline, and a GPU is present."""
        if device == "cpu" or not isinstance(getattr(backend, "engine", None), DeviceEngine):
            return False
        return pipeline_available() and bool(_core.cuda_available())

    def use_options(self, options: _core.DecodeOptions, classes: list[int] | None) -> None:
        """Decodes the next runs with these options. Changing them drops the captured graphs, so
        they are only set when they differ from the last call's: a steady caller keeps its graphs."""
        key = _options_key(options, classes)
        if key != self._options_key:
            self.pipeline.set_options(options, classes)
            self._options_key = key

    def run(self, frames: Sequence[Any], rgb: bool) -> list[tuple[Any, ...]]:
        """Host numpy frames or device arrays (not mixed); per frame (xyxy, scores, ids, stats, geometry).

        A static-batch engine gets exactly its batch, a TensorRT profile at least its minimum: a
        shorter chunk is padded with copies of its last frame, whose results are dropped."""
        frames = list(frames)
        n = len(frames)
        least = max(self.static_batch or 0, self.min_batch)
        if 0 < n < least:
            frames += [frames[-1]] * (least - n)
        if all(is_device_array(f) for f in frames):
            out = self.pipeline.run_device(frames, rgb, producer_stream(frames))
        elif any(is_device_array(f) for f in frames):
            raise InputError("frames: expected all host (numpy) or all device (CuPy/PyTorch) arrays, not a mix")
        else:
            out = self.pipeline.run(frames, rgb)
        failures = self.pipeline.capture_failures
        if failures != self._capture_failures:
            self._capture_failures = failures
            log.warning("%s: the engine could not be captured into a CUDA graph for this shape (%s); "
                        "it runs without a graph", self._name, self.pipeline.last_capture_error)
        return list(out)[:n]


def _options_key(options: _core.DecodeOptions, classes: list[int] | None) -> tuple[Any, ...]:
    return (options.conf, options.iou, options.max_det, options.max_candidates, options.agnostic,
            None if classes is None else tuple(classes))
