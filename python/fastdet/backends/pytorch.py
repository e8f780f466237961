"""PyTorch backend: the ONNX model converted to a ``torch.nn.Module`` (with ``onnx2pytorch``).

For users with PyTorch but not TensorRT: on ``cuda:N`` the module is a device engine of fastdet's
CUDA pipeline (letterbox kernel -> the module on fastdet's stream -> decode + NMS kernel), on the
CPU it runs through the Backend ABC's host buffers (slowly: ONNX Runtime is the CPU backend;
``backend="auto"`` never picks this one without a GPU). ``torch`` and ``onnx2pytorch`` are
imported when a backend is created, never by ``import fastdet``.

The converted module computes shapes, axes and scales in Python from constant tensors on every
call (``.tolist()``, ``int(t)``): on a GPU each is a host synchronisation, which makes it slow
and impossible to capture in a CUDA graph. So for each batch size the module is traced once
(``torch.jit.trace``) and the trace's constants are folded: what remains is the network's own
operators. The trace is checked against the module on a random input and discarded (the module
runs as is, logged once) if they differ, e.g. for a model whose control flow depends on values.

Precision: "fp32" (default) is IEEE float32: cuDNN's TF32 convolutions (torch's default on
Ampere and later) are turned off in the trace. "fp16" runs the module in half precision
(weights, input and activations; the letterbox writes the fp16 input). The output binding is
always float32.

CUDA graphs: fastdet cannot record torch work into its own graph (torch's caching allocator must
own every allocation made during a capture), so the engine reports itself not capturable and the
pipeline replays its graphs around it; the traced module itself is captured with
``torch.cuda.graph`` per (input buffer, output buffer, batch), reading the pipeline's input
binding and writing its output binding, and replayed on fastdet's stream (the steady state of
enqueue() is that replay and nothing else). If torch refuses a capture, the module runs without
a graph (logged once).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..devices import cuda_index
from ..errors import InputError
from ..model import ModelError, ModelInfo
from .base import BackendUnavailable, SerialBackend, installed
from .device_engine import DeviceEngine, TensorSpec
from .onnxruntime_cpu import describe_model
from .options import TorchOptions

log = logging.getLogger("fastdet")

#: One torch CUDA graph capture at a time in the process (captures are rare: once per shape).
_CAPTURE_LOCK = threading.Lock()

#: Most module graphs kept per engine (one per input/output buffer pair and batch).
MAX_GRAPHS = 8


def unavailable_reason() -> str | None:
    """None when this backend can run here (on some device), else why not. Imports nothing heavy."""
    for module, extra in (("torch", "torch"), ("onnx2pytorch", "torch"), ("onnx", "torch"),
                          ("onnxruntime", "cpu")):
        if not installed(module):
            return f"the {module} package is not installed (pip install 'fastdet[{extra}]')"
    return None


@contextlib.contextmanager
def _quiet():
    """onnx2pytorch warns at conversion about Resize attributes torch has no equivalent for
    (irrelevant to the nearest-neighbour upsampling of YOLO necks), its Slice op triggers a
    torch indexing deprecation warning on every call, and tracing warns about the Python
    values it freezes (what it is used for here): none is the user's to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"onnx2pytorch(\.|$)")
        warnings.filterwarnings("ignore", module=r"torch\.jit(\.|$)")
        warnings.filterwarnings("ignore", category=Warning, message=r".*[Tt]race.*")
        yield


def convert(path: Path) -> Any:
    """The ONNX file at ``path`` as a ``torch.nn.Module`` in eval mode (on the CPU), no grads."""
    import onnx
    from onnx2pytorch import ConvertModel

    try:
        model = onnx.load(str(path))
    except Exception as e:  # onnx raises DecodeError and friends for damaged files
        raise ModelError(f"{path.name}: onnx cannot read it: {e}") from None
    try:
        with _quiet():
            module = ConvertModel(model, experimental=True)
    except Exception as e:  # an operator onnx2pytorch has no converter for, say
        raise ModelError(f"{path.name}: onnx2pytorch cannot convert it: {type(e).__name__}: {e}") from None
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


class Forward:
    """The module's forward for one device and precision, traced per batch size.

    ``self(x)`` takes float32 (fp32) or float16 (fp16) ``[B, 3, H, W]`` on the device and returns
    the raw head output (float32 or float16)."""

    def __init__(self, module: Any, info: ModelInfo, device: Any, precision: str) -> None:
        import torch

        self._torch = torch
        self.device = device
        self.module = module.to(device)
        if precision == "fp16":
            self.module = self.module.half()
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.info = info
        self._traced: dict[int, Callable[[Any], Any]] = {}
        self._lock = threading.Lock()
        self._warned = False

    def _eager(self, x: Any) -> Any:
        torch = self._torch
        with _quiet(), torch.no_grad():
            cudnn = torch.backends.cudnn
            with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                             allow_tf32=False):
                y = self.module(x)
        return y[0] if isinstance(y, (list, tuple)) else y

    def _trace(self, batch: int) -> Callable[[Any], Any]:
        torch = self._torch
        h, w = self.info.input_hw
        gen = torch.Generator(device=self.device).manual_seed(batch)
        example = torch.rand((batch, 3, h, w), generator=gen, device=self.device).to(self.dtype)
        probe = torch.rand((batch, 3, h, w), generator=gen, device=self.device).to(self.dtype)
        try:
            with _quiet(), torch.no_grad():
                cudnn = torch.backends.cudnn
                # allow_tf32 is recorded into each traced convolution: trace with it off.
                with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark,
                                 deterministic=cudnn.deterministic, allow_tf32=False):
                    traced = torch.jit.trace(self._eager, example, check_trace=False)
                fold = getattr(torch._C, "_jit_pass_constant_propagation", None)
                if fold is not None:
                    fold(traced.graph)
                got, want = traced(probe), self._eager(probe)
            tol = 1e-2 if self.dtype == torch.float16 else 1e-4
            if got.shape != want.shape or not torch.allclose(got.float(), want.float(), rtol=tol, atol=tol * 10):
                raise ValueError("the trace's output differs from the module's on a random input")
            return traced
        except Exception as e:  # untraceable or value-dependent module: run it as converted
            if not self._warned:
                self._warned = True
                log.warning("%s: cannot trace the converted module (%s: %s); running it untraced (slower, "
                            "no CUDA graph)", self.info.path.name, type(e).__name__, e)
            return self._eager

    def for_batch(self, batch: int) -> Callable[[Any], Any]:
        fn = self._traced.get(batch)
        if fn is None:
            with self._lock:
                fn = self._traced.get(batch)
                if fn is None:
                    fn = self._traced[batch] = self._trace(batch)
        return fn

    def traced(self, batch: int) -> bool:
        return self.for_batch(batch) is not self._eager

    def __call__(self, x: Any) -> Any:
        return self.for_batch(int(x.shape[0]))(x)


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
        self.forward = Forward(module, info, self.device, precision)
        self.info = info
        self.precision = precision
        self.input_dtype = np.dtype(np.float16 if precision == "fp16" else np.float32)
        self.use_graphs = use_graphs
        # (input ptr, output ptr, stream, batch) -> (torch CUDA graph, torch stream)
        self._graphs: dict[tuple[int, int, int, int], tuple[Any, Any]] = {}
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
            with torch.cuda.device(self.device):
                x = torch.zeros((1, 3, h, w), dtype=self.forward.dtype, device=self.device)
                y = self.forward(x)
            self._output_tail = tuple(int(d) for d in y.shape[1:])
        return self._output_tail

    # -- running -------------------------------------------------------------------------------

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
        key = (input_ptr, output_ptr, stream_handle, batch)
        hit = self._graphs.get(key)
        if hit is not None:  # the steady state: one graph replay, nothing else in Python
            graph, stream = hit
            with self._lock, torch.cuda.stream(stream):
                graph.replay()
            return
        x = self._view(input_ptr, self.input_spec(batch).shape, self.input_dtype)
        out_spec = self.output_spec(batch)
        y = self._view(output_ptr, out_spec.shape, out_spec.dtype)
        stream = self._stream(stream_handle)
        with self._lock, torch.no_grad(), torch.cuda.device(self.device):
            fn = self.forward.for_batch(batch)  # traces on first use, outside fastdet's stream
            with torch.cuda.stream(stream):
                if self.use_graphs and not self._capture_failed and self.forward.traced(batch):
                    graph = self._capture(fn, x, y, stream, key)
                    if graph is not None:
                        graph.replay()
                        return
                result = fn(x)
                self._check_shape(result, y)
                y.copy_(result)

    def _check_shape(self, result: Any, y: Any) -> None:
        if tuple(result.shape) != tuple(y.shape):
            raise ModelError(f"{self.info.path.name}: the converted module returned shape {tuple(result.shape)}, "
                             f"expected {tuple(y.shape)}")

    def _capture(self, fn: Callable[[Any], Any], x: Any, y: Any, stream: Any, key: tuple[int, int, int, int]) -> Any:
        """Records fn(x) -> y as a torch CUDA graph; None (and no graphs from then on) where torch refuses."""
        torch = self._torch
        side = torch.cuda.Stream(device=self.device)
        side.wait_stream(stream)  # the letterbox that filled x was enqueued on `stream`
        try:
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up outside capture: cuDNN picks algorithms, lazy init runs
                    result = fn(x)
                self._check_shape(result, y)
            stream.wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            # On our own stream of this device (torch's default capture stream is one per process,
            # made on whichever device was current first), one capture at a time in the process,
            # and only this thread's unsafe calls break it ("thread_local"): other threads'
            # Detectors may go on allocating and launching meanwhile.
            with _CAPTURE_LOCK, torch.cuda.graph(graph, stream=side, capture_error_mode="thread_local"):
                y.copy_(fn(x))
        except ModelError:
            raise
        except Exception as e:  # capture refused (a host sync in the module, an unsupported op)
            self._capture_failed = True
            log.warning("%s: torch cannot capture the module in a CUDA graph (%s: %s); running it without one",
                        self.info.path.name, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            torch.cuda.synchronize(self.device)
            return None
        if len(self._graphs) >= MAX_GRAPHS:
            self._graphs.pop(next(iter(self._graphs)))
        self._graphs[key] = (graph, stream)
        return graph


class Torch(SerialBackend):
    """The converted module through the Backend ABC's host buffers (CPU or GPU); on a GPU the
    Detector drives ``engine`` through the CUDA pipeline instead.

    device: None (cuda:0 when torch sees a GPU, else the CPU), "cpu", "cuda" or "cuda:N".
    options: ``TorchOptions`` (precision "fp32", default, or "fp16", GPU only).
    """

    name = "torch"
    Options = TorchOptions
    #: Largest batch one run takes of a dynamic-batch model. Each new batch size is traced (and on
    #: a GPU captured) once, in seconds, and keeps its own buffers: a Detector given lists of any
    #: length runs them in chunks of at most this many, so those stay bounded.
    MAX_DYNAMIC_BATCH = 32

    @property
    def max_batch(self) -> int | None:
        return self.info.input_shape[0] or self.MAX_DYNAMIC_BATCH

    def __init__(self, path: Path, *, device: str | None = None, options: TorchOptions | None = None,
                 **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        precision = (options or TorchOptions()).precision
        import torch

        self._torch = torch
        self.info = describe_model(path, **model_kw)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            if precision == "fp16":
                raise InputError("precision='fp16' needs a GPU; on the CPU the torch backend runs fp32")
            self.device = torch.device("cpu")
        else:
            index = cuda_index(device)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                raise BackendUnavailable(f"torch sees no CUDA device {device!r}")
            self.device = torch.device("cuda", index)
        module = convert(path)
        self.engine: TorchEngine | None = None
        if self.device.type == "cuda":
            self.engine = TorchEngine(module, self.info, self.device.index, precision)
            self.forward = self.engine.forward
        else:
            self.forward = Forward(module, self.info, self.device, precision)
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
            x = host.to(self.device, non_blocking=True).to(self.forward.dtype)
            ctx = torch.cuda.device(self.device) if self.device.type == "cuda" else contextlib.nullcontext()
            with ctx:
                y = self.forward(x)
            return y.float().cpu().numpy()
