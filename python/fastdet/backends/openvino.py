"""OpenVINO on the CPU: the fastest CPU backend fastdet has measured on x86 (about 2x ONNX Runtime
on YOLOv8n), reading ONNX files, OpenVINO IR and ultralytics' ``*_openvino_model/`` folders.

Buffers: each call leases a slot (``slots.SlotPool``) holding one float32 input and one float32
output buffer, allocated once and handed to the slot's infer requests as their tensors
(``openvino.Tensor(..., shared_memory=True)``), so the letterbox writes straight into the request's
input memory and decode reads its output in place: no copy either way and no allocation per call.
The compiled models are shared by all slots; requests are per slot, so calls from several threads
run at once without a lock around inference.

Scheduling (``hint``):

- ``"latency"``: one compiled model with OpenVINO's LATENCY hint (one stream using every core),
  one request per call. Best for single frames.
- ``"throughput"``: OpenVINO's THROUGHPUT hint (several streams of fewer threads each) and its
  optimal number of requests per slot; a batch is split into one sub-batch per request (per model
  batch for fixed-batch models) and they run concurrently. Also what many single-frame callers
  sharing one Detector want: their requests then run on several streams at once.
- ``"auto"`` (default): LATENCY for a call that is one request, THROUGHPUT (compiled the first time
  it is needed) for a call that splits into several. Measured on 2 cores with yolov8n, 8 frames:
  ~24 ms/frame through two streams vs ~30 ms/frame as one batch-8 request.

``threads``: OpenVINO's inference threads (default: one per physical core). fastdet's letterbox
and decode run between inferences, so they do not compete with OpenVINO's threads, which sleep
once a request finishes.

``precision``: ``"auto"`` (OpenVINO's default for the CPU: bf16 execution on CPUs with AMX or
AVX512-BF16, fp32 elsewhere), ``"fp32"`` (always fp32: results within float tolerance of ONNX
Runtime, 2-3x slower where bf16 is available) or ``"bf16"``. Accuracy of each on COCO is in the
README.

``cache_dir``: where OpenVINO caches compiled models (its ``CACHE_DIR``): by default
``$FASTDET_CACHE/openvino`` (see ``engine_cache.default_cache_dir``); ``False`` turns it off.
OpenVINO keys entries by the model, the device and the settings and recompiles on a mismatch;
the folder is created 0700 and one that another user owns or can write is refused
(``UnsafeCacheError``), as the TensorRT engine cache is.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..model import ModelError
from .base import Backend, BackendUnavailable
from .openvino_core import shared_core
from .openvino_model import read
from .options import OpenVINOOptions
from .slots import Lease, SlotPool

log = logging.getLogger("fastdet")

#: fastdet's precision names -> OpenVINO's INFERENCE_PRECISION_HINT (None: OpenVINO's default).
PRECISIONS = {"auto": None, "fp32": "f32", "bf16": "bf16"}


def unavailable_reason() -> str | None:
    """None when this backend can run here, else why not. Imports nothing heavy."""
    try:
        found = importlib.util.find_spec("openvino") is not None
    except (ValueError, ImportError):
        found = False
    if not found:
        return "openvino is not installed (pip install 'fastdet[cpu]')"
    return None


def default_cache_dir() -> Path:
    from ..engine_cache import default_cache_dir as fastdet_cache

    return fastdet_cache() / "openvino"


def compile_config(hint: str, threads: int | None, precision: str, cache_dir: Path | None) -> dict[str, Any]:
    """OpenVINO properties for one compiled model (hint "latency" or "throughput")."""
    config: dict[str, Any] = {"PERFORMANCE_HINT": hint.upper()}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    if PRECISIONS[precision]:
        config["INFERENCE_PRECISION_HINT"] = PRECISIONS[precision]
    if cache_dir is not None:
        config["CACHE_DIR"] = str(cache_dir)
    return config


class _Slot:
    """One call's buffers and infer requests over the shared compiled models: input
    float32[rows, 3, H, W] and output float32[rows, ...] (rows = sub-batches x sub-batch size, so
    a fixed-batch model's last sub-batch is padded), an ``openvino.Tensor`` view of each sub-batch,
    and this slot's own requests. Rows grow to the largest call served."""

    def __init__(self, backend: OpenVINOCPU) -> None:
        self.backend = backend
        self.input = np.zeros((0, 3, *backend.info.input_hw), np.float32)
        self.output = np.zeros((0, *backend._tail()), np.float32)
        self.tensors: dict[tuple[str, int], list[tuple[Any, Any]]] = {}
        self.latency_request: Any = None
        self.throughput_requests: list[Any] = []

    def input_for(self, batch: int) -> np.ndarray:
        rows = self.backend._rows(batch)
        if rows > self.input.shape[0]:
            self.input = np.zeros((rows, *self.input.shape[1:]), np.float32)
            self.output = np.zeros((rows, *self.output.shape[1:]), np.float32)
            self.tensors.clear()
        return self.input[:batch]

    def run(self, batch: int) -> np.ndarray:
        b = self.backend
        mode = b._mode(batch)
        tensors = self._tensors(mode, batch)
        if mode == "latency":
            if self.latency_request is None:
                self.latency_request = b._compile("latency").create_infer_request()
            request = self.latency_request
            for tin, tout in tensors:
                request.set_input_tensor(tin)
                request.set_output_tensor(tout)
                request.infer()
        else:
            if not self.throughput_requests:
                compiled = b._compile("throughput")
                self.throughput_requests = [compiled.create_infer_request() for _ in range(b._streams())]
            requests = self.throughput_requests
            started: list[Any] = []
            try:
                for i, (tin, tout) in enumerate(tensors):
                    request = requests[i % len(requests)]
                    if i >= len(requests):
                        request.wait()  # more sub-batches than requests (a fixed-batch model): reuse
                    request.set_input_tensor(tin)
                    request.set_output_tensor(tout)
                    request.start_async()
                    started.append(request)
            finally:
                # Every started request is waited for, even when one failed: none may still write
                # into this slot's buffers once the call returns (the slot goes back to the pool).
                error = None
                for request in dict.fromkeys(started):
                    try:
                        request.wait()
                    except Exception as e:  # noqa: BLE001 - the first failure is raised below
                        error = error or e
                if error is not None:
                    raise error
        return self.output[: len(tensors) * tensors[0][0].shape[0]]

    def _tensors(self, mode: str, batch: int) -> list[tuple[Any, Any]]:
        key = (mode, batch)
        views = self.tensors.get(key)
        if views is None:
            ov, sub = self.backend._ov, self.backend._sub_batch(batch, mode)
            rows = self.backend._rows(batch)
            views = self.tensors[key] = [(ov.Tensor(self.input[i:i + sub], shared_memory=True),
                                          ov.Tensor(self.output[i:i + sub], shared_memory=True))
                                         for i in range(0, rows, sub)]
        return views


class OpenVINOCPU(Backend):
    """OpenVINO CPU inference on preallocated, reused buffers (see the module docstring). The
    compiled models are shared; each call leases a slot with its own buffers and infer requests,
    so calls from several threads run at once."""

    name = "openvino-cpu"
    Options = OpenVINOOptions
    concurrent = True

    def __init__(self, path: Path, *, options: OpenVINOOptions | None = None, **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        options = options or OpenVINOOptions()
        hint, threads, precision, cache_dir = options.hint, options.threads, options.precision, options.cache_dir
        import openvino as ov

        self._ov = ov
        t0 = time.perf_counter()
        self._core = shared_core()
        loaded = read(self._core, Path(path), **model_kw)
        self.info = loaded.info
        self.source = loaded.source
        self._model = loaded.model
        self.hint, self.threads, self.precision = hint, threads, precision
        if cache_dir is False:
            self.cache_dir: Path | None = None
        elif cache_dir is None or cache_dir is True:
            self.cache_dir = default_cache_dir()
        else:
            self.cache_dir = Path(cache_dir)
        if self.cache_dir is not None:
            # Compiled blobs are code for this CPU: a folder another user could write is refused,
            # as for TensorRT engines.
            from ..private_files import private_dir

            private_dir(self.cache_dir, "OpenVINO cache folder")
        # The model's own batch, or None when dynamic: the sub-batch of a fixed-batch model.
        self._model_batch = self.info.input_shape[0]
        self._compiled: dict[str, Any] = {}
        self._compile_lock = threading.Lock()
        self._output_tail: tuple[int, ...] | None = None
        first = "throughput" if hint == "throughput" else "latency"
        self._compile(first)
        self.slots: SlotPool[_Slot] = SlotPool(lambda: _Slot(self))
        #: Seconds from reading the model to the first compiled model (cache hits make it shorter).
        self.start_seconds = time.perf_counter() - t0

    # -- what the Detector sees ------------------------------------------------------------------

    @property
    def max_batch(self) -> int | None:
        return None  # any batch: split into requests here, fixed-batch models padded

    @property
    def static_batch(self) -> int | None:
        return None

    @property
    def inference_precision(self) -> str:
        """The precision OpenVINO executes in ("f32", "bf16", ...), after the "auto" choice."""
        compiled = next(iter(self._compiled.values()))
        return compiled.get_property("INFERENCE_PRECISION_HINT").to_string()

    def lease(self, batch: int) -> Lease:
        if batch < 1:
            raise ValueError(f"batch: expected at least 1, got {batch}")
        return self.slots.lease(batch)

    # -- internals ---------------------------------------------------------------------------------

    def _mode(self, batch: int) -> str:
        if self.hint != "auto":
            return self.hint
        one_request = batch == 1 if self._model_batch is None else batch <= self._model_batch
        return "latency" if one_request else "throughput"

    def _compile(self, mode: str) -> Any:
        compiled = self._compiled.get(mode)
        if compiled is not None:
            return compiled
        with self._compile_lock:  # two threads needing the same mode first compile it once
            compiled = self._compiled.get(mode)
            if compiled is not None:
                return compiled
            config = compile_config(mode, self.threads, self.precision, self.cache_dir)
            try:
                compiled = self._core.compile_model(self._model, "CPU", config)
            except RuntimeError as e:
                raise ModelError(f"{self.info.path.name}: OpenVINO cannot compile it for the CPU: "
                                 f"{str(e).strip().splitlines()[0]}") from None
            log.debug("openvino: compiled for %s (%s streams, %s threads, %s)", mode,
                      compiled.get_property("NUM_STREAMS"), compiled.get_property("INFERENCE_NUM_THREADS"),
                      compiled.get_property("INFERENCE_PRECISION_HINT"))
            self._compiled[mode] = compiled
        return compiled

    def _streams(self) -> int:
        """Requests the THROUGHPUT compiled model runs best with (its optimal number)."""
        return int(self._compile("throughput").get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def _sub_batch(self, batch: int, mode: str) -> int:
        if self._model_batch is not None:
            return self._model_batch
        if mode == "latency":
            return batch
        return math.ceil(batch / self._streams())

    def _rows(self, batch: int) -> int:
        """Rows a call of ``batch`` needs: whole sub-batches (a fixed-batch model's are padded)."""
        sub = self._sub_batch(batch, self._mode(batch))
        return math.ceil(batch / sub) * sub

    def _tail(self) -> tuple[int, ...]:
        """Output dims after the batch (static once the input size is fixed)."""
        if self._output_tail is None:
            shape = next(iter(self._compiled.values())).output(0).get_partial_shape()
            dims = list(shape)[1:]
            if not all(d.is_static for d in dims):
                raise ModelError(f"{self.info.path.name}: output shape {shape} is not static after the batch "
                                 f"once the input is {self.info.input_hw}: export with a fixed image size")
            self._output_tail = tuple(d.get_length() for d in dims)
        return self._output_tail
