"""The Detector's GPU path: frames -> CUDA letterbox -> device engine -> CUDA decode + NMS.

Used when the backend exposes a ``DeviceEngine`` (TensorRT) and this build has the CUDA
pipeline: the letterbox kernel writes the engine's input binding and the decode kernel reads
its output binding, with one host synchronisation per call and a CUDA graph per shape.
"""

from __future__ import annotations

from typing import Any, Sequence

from . import _core
from .backends.base import Backend
from .backends.device_engine import DeviceEngine, device_index, pipeline_available, pipeline_engine
from .model import ModelInfo


def is_device_array(frame: Any) -> bool:
    """True for CuPy / PyTorch CUDA arrays (objects with ``__cuda_array_interface__``)."""
    return hasattr(frame, "__cuda_array_interface__")


class GpuPath:
    """A CudaPipeline bound to one backend's device engine."""

    def __init__(self, backend: Backend, info: ModelInfo, options: _core.DecodeOptions,
                 classes: list[int] | None, device: str | None, use_graphs: bool = True) -> None:
        engine: DeviceEngine = backend.engine  # type: ignore[attr-defined]
        if hasattr(engine, "use_graphs"):  # an engine that captures itself (torch) follows the Detector
            engine.use_graphs = engine.use_graphs and use_graphs
        self.pipeline = _core.cuda.CudaPipeline(
            pipeline_engine(engine), info.head, info.input_hw, info.recipe, options, classes,
            input_dtype=engine.input_spec(1).dtype.name, output_dtype=engine.output_spec(1).dtype.name,
            device=device_index(device), use_graphs=use_graphs)

    @staticmethod
    def usable(backend: Backend, device: str | None) -> bool:
        """The backend drives a device engine, the build has the pipeline, and a GPU is present."""
        if device == "cpu" or not isinstance(getattr(backend, "engine", None), DeviceEngine):
            return False
        return pipeline_available() and bool(_core.cuda_available())

    def run(self, frames: Sequence[Any], rgb: bool) -> list[tuple[Any, ...]]:
        """Host numpy frames or device arrays (not mixed); per frame (xyxy, scores, ids, stats, geometry)."""
        if all(is_device_array(f) for f in frames):
            return list(self.pipeline.run_device(list(frames), rgb))
        if any(is_device_array(f) for f in frames):
            raise ValueError("frames: expected all host (numpy) or all device (CuPy/PyTorch) arrays, not a mix")
        return list(self.pipeline.run(list(frames), rgb))
