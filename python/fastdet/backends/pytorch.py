"""PyTorch backend: the ONNX model converted to a ``torch.nn.Module`` (with ``onnx2pytorch``).

For users with PyTorch but not TensorRT: on ``cuda:N`` the module is a device engine of fastdet's
CUDA pipeline (letterbox kernel -> the module on fastdet's stream -> decode + NMS kernel), on the
CPU it runs through the Backend ABC's host buffers (slowly: ONNX Runtime is the CPU backend;
``backend="auto"`` never picks this one without a GPU). ``torch`` and ``onnx2pytorch`` are
imported when a backend is created, never by ``import fastdet``.

Precision: "fp32" (default) runs the graph as converted, in IEEE float32 (cuDNN's TF32
convolutions, torch's default on Ampere and later, are turned off around the module's calls);
"fp16" runs it under autocast (convolutions and matrix products in fp16) and has the letterbox
write an fp16 input. The output binding is always float32.

CUDA graphs: fastdet cannot record torch work into its own graph (torch's caching allocator must
own every allocation made during a capture), so the engine reports itself not capturable and the
pipeline replays its graphs around it; the module itself is captured with ``torch.cuda.graph`` per
(input buffer, output buffer, batch), reading the pipeline's input binding and writing its output
binding, and replayed on fastdet's stream. A module torch cannot capture runs eagerly (logged once).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..model import ModelError, ModelInfo
from .base import Backend, BackendUnavailable
from .device_engine import DeviceEngine, TensorSpec, device_index
from .onnxruntime_cpu import describe_model

log = logging.getLogger("fastdet")

PRECISIONS = ("fp32", "fp16")
#: Most module graphs kept per engine (one per input/output buffer pair and batch).
MAX_GRAPHS = 8


def _find(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ValueError, ImportError):
        return False


def unavailable_reason() -> str | None:
    """None when this backend can run here (on some device), else why not. Imports nothing heavy."""
    for module, extra in (("torch", "torch"), ("onnx2pytorch", "torch"), ("onnx", "torch"),
                          ("onnxruntime", "cpu")):
        if not _find(module):
            return f"the {module} package is not installed (pip install 'fastdet[{extra}]')"
    return None


@contextlib.contextmanager
def _quiet_converter():
    """onnx2pytorch warns at conversion about Resize attributes torch has no equivalent for
    (irrelevant to the nearest-neighbour upsampling of YOLO necks) and its Slice op triggers a
    torch indexing deprecation warning on every call: neither is the user's to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"onnx2pytorch(\.|$)")
        yield


def convert(path: Path) -> Any:
    """The ONNX file at ``path`` as a ``torch.nn.Module`` in eval mode (on the CPU)."""
    import onnx
    from onnx2pytorch import ConvertModel

    try:
        model = onnx.load(str(path))
    except Exception as e:  # onnx raises DecodeError and friends for damaged files
        raise ModelError(f"{path.name}: onnx cannot read it: {e}") from None
    try:
        with _quiet_converter():
            module = ConvertModel(model, experimental=True)
    except Exception as e:  # an operator onnx2pytorch has no converter for, say
        raise ModelError(f"{path.name}: onnx2pytorch cannot convert it: {type(e).__name__}: {e}") from None
    return module.eval()


class _DeviceView:
    """A device pointer as ``__cuda_array_interface__`` (version 2: no stream to wait on; the
    caller orders all work on one stream)."""

    def __init__(self, ptr: int, shape: tuple[int, ...], typestr: str) -> None:
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (ptr, False),
                                         "strides": None, "version": 2}


class TorchEngine(DeviceEngine):
    """The module as a device engine: enqueue() runs it on the caller's stream, reading and
    writing the caller's device buffers."""

    graph_capturable = False  # see the module docstring: the module is captured by torch instead

    def __init__(self, module: Any, info: ModelInfo, device: int, precision: str, use_graphs: bool = True) -> None:
        import torch

        self._torch = torch
        self.device = torch.device("cuda", device)
        self.module = module.to(self.device)
        self.info = info
        self.precision = precision
        self.input_dtype = np.dtype(np.float16 if precision == "fp16" else np.float32)
        self.use_graphs = use_graphs
        self._graphs: dict[tuple[int, int, int], Any] = {}
        self._streams: dict[int, Any] = {}
        self._views: dict[tuple[int, tuple[int, ...], str], Any] = {}
        self._capture_failed = False
        self._lock = threading.Lock()
        self._output_tail: tuple[int, ...] | None = None

    # -- shapes --------------------------------------------------------------------------------

    def input_spec(self, batch: int) -> TensorSpec:
        h, w = self.info.input_hw
        return TensorSpec(self.info.input_name, self.input_dtype, (batch, 3, h, w))

    def output_spec(self, batch: int) -> TensorSpec:
        tail = self.info.output_shape[1:]
        if any(not isinstance(d, int) or d <= 0 for d in tail):
            tail = self._probe_output_tail()
        return TensorSpec(self.info.output_name, np.dtype(np.float32), (batch, *tail))

    def _probe_output_tail(self) -> tuple[int, ...]:
        """Output dims after the batch for a model whose ONNX leaves them symbolic: one run on zeros."""
        if self._output_tail is None:
            torch = self._torch
            h, w = self.info.input_hw
            with torch.no_grad(), torch.cuda.device(self.device):
                y = self._forward(torch.zeros((1, 3, h, w), dtype=torch.float32, device=self.device))
            self._output_tail = tuple(int(d) for d in y.shape[1:])
        return self._output_tail

    # -- running -------------------------------------------------------------------------------

    def _forward(self, x: Any) -> Any:
        torch = self._torch
        with _quiet_converter():
            if self.precision == "fp16":
                # cache_enabled=False: autocast's weight cache must not outlive a graph capture.
                with torch.autocast("cuda", dtype=torch.float16, cache_enabled=False):
                    y = self.module(x)
            else:
                cudnn = torch.backends.cudnn
                with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark,
                                 deterministic=cudnn.deterministic, allow_tf32=False):
                    y = self.module(x)
        if isinstance(y, (list, tuple)):
            y = y[0]
        return y

    def _view(self, ptr: int, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        key = (ptr, shape, dtype.str)
        t = self._views.get(key)
        if t is None:
            t = self._torch.as_tensor(_DeviceView(ptr, shape, dtype.str), device=self.device)
            if len(self._views) > 4 * MAX_GRAPHS:
                self._views.clear()
            self._views[key] = t
        return t

    def _stream(self, handle: int) -> Any:
        s = self._streams.get(handle)
        if s is None:
            s = self._streams[handle] = self._torch.cuda.ExternalStream(handle, device=self.device)
        return s

    def enqueue(self, input_ptr: int, output_ptr: int, stream_handle: int, batch: int) -> None:
        torch = self._torch
        x = self._view(input_ptr, self.input_spec(batch).shape, self.input_dtype)
        out_spec = self.output_spec(batch)
        y = self._view(output_ptr, out_spec.shape, out_spec.dtype)
        stream = self._stream(stream_handle)
        with self._lock, torch.no_grad(), torch.cuda.device(self.device), torch.cuda.stream(stream):
            key = (input_ptr, output_ptr, batch)
            graph = self._graphs.get(key)
            if graph is None and self.use_graphs and not self._capture_failed:
                graph = self._capture(x, y, stream, key)
            if graph is not None:
                graph.replay()
                return
            result = self._forward(x)
            self._check_shape(result, y)
            y.copy_(result)

    def _check_shape(self, result: Any, y: Any) -> None:
        if tuple(result.shape) != tuple(y.shape):
            raise ModelError(f"{self.info.path.name}: the converted module returned shape {tuple(result.shape)}, "
                             f"expected {tuple(y.shape)}")

    def _capture(self, x: Any, y: Any, stream: Any, key: tuple[int, int, int]) -> Any:
        """Records module(x) -> y as a torch CUDA graph; None (and eager from then on) where torch refuses."""
        torch = self._torch
        side = torch.cuda.Stream(device=self.device)
        side.wait_stream(stream)  # the letterbox that filled x was enqueued on `stream`
        try:
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up outside capture: cuDNN picks algorithms, lazy init runs
                    result = self._forward(x)
                self._check_shape(result, y)
            stream.wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                y.copy_(self._forward(x))
        except ModelError:
            raise
        except Exception as e:  # capture refused (a host sync in the module, an unsupported op)
            self._capture_failed = True
            log.warning("%s: torch cannot capture the module in a CUDA graph (%s: %s); running it eagerly",
                        self.info.path.name, type(e).__name__, e)
            torch.cuda.synchronize(self.device)
            return None
        if len(self._graphs) >= MAX_GRAPHS:
            self._graphs.pop(next(iter(self._graphs)))
        self._graphs[key] = graph
        return graph


class Torch(Backend):
    """The converted module through the Backend ABC's host buffers (CPU or GPU); on a GPU the
    Detector drives ``engine`` through the CUDA pipeline instead.

    device: None (cuda:0 when torch sees a GPU, else the CPU), "cpu", "cuda" or "cuda:N".
    precision: "fp32" (default) or "fp16" (GPU only). use_graphs: capture the module in a torch
    CUDA graph per buffer pair and batch.
    """

    name = "torch"

    def __init__(self, path: Path, *, device: str | None = None, precision: str = "fp32", use_graphs: bool = True,
                 **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        if precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
        import torch

        self._torch = torch
        self.info = describe_model(path, **model_kw)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            if precision == "fp16":
                raise ValueError("precision='fp16' needs a GPU; on the CPU the torch backend runs fp32")
            self.device = torch.device("cpu")
        else:
            index = device_index(device)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                raise BackendUnavailable(f"torch sees no CUDA device {device!r}")
            self.device = torch.device("cuda", index)
        module = convert(path)
        self.engine: TorchEngine | None = None
        if self.device.type == "cuda":
            self.engine = TorchEngine(module, self.info, self.device.index, precision, use_graphs)
            module = self.engine.module
        self.module = module
        self.precision = precision
        self._inputs: dict[int, tuple[np.ndarray, Any]] = {}

    def input_buffer(self, batch: int) -> np.ndarray:
        entry = self._inputs.get(batch)
        if entry is None:
            h, w = self.info.input_hw
            host = self._torch.zeros((batch, 3, h, w), dtype=self._torch.float32,
                                     pin_memory=self.device.type == "cuda")
            entry = self._inputs[batch] = (host.numpy(), host)
        return entry[0]

    def run(self, batch: int) -> np.ndarray:
        torch = self._torch
        self.input_buffer(batch)
        host = self._inputs[batch][1]
        with torch.no_grad():
            x = host.to(self.device, non_blocking=True)
            if self.engine is not None:
                with torch.cuda.device(self.device):
                    y = self.engine._forward(x)
            else:
                with _quiet_converter():
                    y = self.module(x)
                y = y[0] if isinstance(y, (list, tuple)) else y
            out = y.float().cpu().numpy()
        return out
