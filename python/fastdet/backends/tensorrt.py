"""TensorRT backend: the only module of fastdet that imports ``tensorrt``.

Uses NVIDIA's ``tensorrt`` Python package (wheels tensorrt-cu12 / tensorrt-cu13, TensorRT 10 or
later); nothing of TensorRT is needed to build fastdet. ``tensorrt`` is imported lazily, so
importing fastdet never loads it.

Engines are built from the ONNX file and kept in the engine cache (``fastdet.engine_cache``), keyed
by the model's bytes, the TensorRT version, the GPU, the precision, the optimisation profile and
fastdet's version. Execution uses the named-tensor API (``set_tensor_address``,
``set_input_shape``, ``execute_async_v3``) on caller-owned device buffers and stream. One engine is
shared per process; each thread gets its own execution context.

Precision: "fp16" (default) lets TensorRT 10 pick fp16 kernels (``BuilderFlag.FP16``); "fp32"
builds the network as declared. TensorRT 11 removed precision flags (strongly typed networks only):
there the default becomes "fp32" (the ONNX's own types) and "fp16" asks for an ONNX already
converted to fp16 (e.g. with ModelOpt AutoCast).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
import weakref
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..engine_cache import CacheKey, CachedEngine, EngineCache, file_sha256
from ..private_files import read_trusted, write_atomic
from ..errors import EngineError, InputError
from ..model import ModelError, ModelInfo
from .base import BackendUnavailable, SerialBackend, installed
from .onnxruntime_cpu import describe_model
from .options import TensorRTOptions
from .device_engine import DeviceEngine, TensorSpec, device_index, gpu_unavailable_reason

log = logging.getLogger("fastdet")

PRECISIONS = ("fp16", "fp32")


def unavailable_reason() -> str | None:
    """None when this backend can run here, else why not (imports nothing heavy)."""
    if not installed("tensorrt"):
        return "the tensorrt package is not installed (pip install 'fastdet[gpu]' or 'fastdet[gpu-cu12]')"
    reason = gpu_unavailable_reason()
    if reason:
        return reason
    if not installed("cupy"):
        return "cupy is not installed (pip install 'fastdet[gpu]'): the TensorRT backend's device buffers use it"
    if not installed("onnxruntime"):
        return "onnxruntime (or onnxruntime-gpu) is not installed: fastdet reads the model's metadata with it"
    return None


def _trt() -> Any:
    import tensorrt

    return tensorrt


_LOGGER: Any = None


def _logger() -> Any:
    """A TensorRT logger that forwards to the "fastdet" Python logger."""
    global _LOGGER
    if _LOGGER is None:
        trt = _trt()

        class _Forward(trt.ILogger):
            def __init__(self) -> None:
                trt.ILogger.__init__(self)

            def log(self, severity: Any, msg: str) -> None:
                S = trt.ILogger.Severity
                if severity in (S.INTERNAL_ERROR, S.ERROR):
                    log.error("TensorRT: %s", msg)
                elif severity == S.WARNING:
                    log.warning("TensorRT: %s", msg)
                elif severity == S.INFO:
                    log.debug("TensorRT: %s", msg)

        _LOGGER = _Forward()
    return _LOGGER


def default_precision() -> str:
    """"fp16" where this TensorRT can lower precision from a builder flag (TensorRT 10), else "fp32"."""
    return "fp16" if hasattr(_trt().BuilderFlag, "FP16") else "fp32"


#: Revision of build_engine's settings, part of every cache key: engines built by an earlier
#: revision are rebuilt, not reused (2: TF32 off for precision="fp32").
BUILDER_REVISION = 2


def profile_for(info: ModelInfo, batch: int | Sequence[int] | None) -> tuple[int, int, int]:
    """(min, opt, max) batch of the optimisation profile.

    batch: None (1/1/1 for a dynamic batch axis, the model's batch for a static one), an int
    (all three), or (min, opt, max) with 1 <= min <= opt <= max.
    """
    static = info.input_shape[0]
    if batch is None:
        triple = (static,) * 3 if static else (1, 1, 1)
    elif isinstance(batch, int):
        triple = (batch,) * 3
    else:
        triple = tuple(int(b) for b in batch)
    if len(triple) != 3 or not 1 <= triple[0] <= triple[1] <= triple[2]:
        raise InputError(f"batch: expected (min, opt, max) with 1 <= min <= opt <= max, got {batch!r}")
    if static and triple != (static,) * 3:
        raise InputError(f"batch: {info.path.name} has a static batch of {static}; "
                         f"re-export it with a dynamic batch axis to build a profile {triple}")
    return triple  # type: ignore[return-value]


def cache_key(info: ModelInfo, precision: str, batch: tuple[int, int, int], device: int,
              model_sha256: str | None = None) -> CacheKey:
    import fastdet

    from .. import _core

    _, c, h, w = info.input_shape
    shapes = tuple((b, c, h, w) for b in batch)
    return CacheKey(
        model_sha256=model_sha256 or file_sha256(info.path),
        runtime_version=_trt().__version__,
        gpu=_core.cuda_device_name(device),
        precision=precision,
        profile=((info.input_name, shapes),),  # type: ignore[arg-type]
        fastdet_version=f"{fastdet.__version__}/builder{BUILDER_REVISION}",
    )


def _timing_cache_path(cache: EngineCache, key: CacheKey) -> Path:
    gpu = "".join(ch if ch.isalnum() else "-" for ch in key.gpu)
    return cache.directory / f"timing-{key.runtime_version}-{gpu}.cache"


def build_engine(info: ModelInfo, key: CacheKey, *, workspace_mb: int | None = None,
                 timing_cache: Path | None = None) -> bytes:
    """Builds a serialised engine for ``key`` from the ONNX file at ``info.path``."""
    trt = _trt()
    builder = trt.Builder(_logger())
    network = builder.create_network()  # explicit batch is the only mode (and the default) since TensorRT 10
    parser = trt.OnnxParser(network, _logger())
    if not parser.parse_from_file(str(info.path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or "no details"
        raise ModelError(f"{info.path.name}: TensorRT's ONNX parser rejected it: {errors}")
    if network.num_inputs != 1:
        raise ModelError(f"{info.path.name}: expected one input, TensorRT sees {network.num_inputs}")
    if network.num_outputs != 1:
        raise ModelError(f"{info.path.name}: the TensorRT backend takes models with one output, "
                         f"this one has {network.num_outputs}; re-export it with only the detection head")
    config = builder.create_builder_config()
    if workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if key.precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        # TensorRT allows TF32 (10-bit mantissa) convolutions and matmuls unless told not to:
        # "fp32" means IEEE fp32, as the other backends' fp32 does.
        config.clear_flag(trt.BuilderFlag.TF32)
    if key.precision == "fp16":
        if not hasattr(trt.BuilderFlag, "FP16"):
            raise InputError("precision='fp16': this TensorRT builds strongly typed networks only; convert the "
                             "ONNX to fp16 first (e.g. ModelOpt AutoCast) and build it with precision='fp32'")
        with warnings.catch_warnings():  # deprecated (not removed) in late TensorRT 10 releases
            warnings.simplefilter("ignore", DeprecationWarning)
            fast = getattr(builder, "platform_has_fast_fp16", True)
        if fast:
            config.set_flag(trt.BuilderFlag.FP16)
        else:
            log.warning("%s: this GPU has no fast fp16; building fp32 kernels", info.path.name)
    inp = network.get_input(0)
    if any(d < 0 for d in inp.shape):
        ((name, (lo, opt, hi)),) = key.profile
        profile = builder.create_optimization_profile()
        profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    tc = None
    if timing_cache is not None:
        blob = b""
        with contextlib.suppress(FileNotFoundError):
            blob = read_trusted(timing_cache, "TensorRT timing cache")
        try:
            tc = config.create_timing_cache(blob)
            ok = tc is not None and config.set_timing_cache(tc, False)
        except Exception:  # a damaged cache file: TensorRT raises its own error types
            ok = False
        if not ok:
            log.warning("timing cache %s is unusable; starting a new one", timing_cache)
            tc = config.create_timing_cache(b"")
            config.set_timing_cache(tc, False)
    data = builder.build_serialized_network(network, config)
    if data is None:
        raise EngineError(f"{info.path.name}: TensorRT could not build an engine (see the TensorRT errors logged above)")
    if tc is not None and timing_cache is not None:
        _write_timing_cache(timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(data)


def _write_timing_cache(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as e:  # the timing cache only speeds up builds: never fail a build over it
        log.warning("cannot write timing cache %s: %s", path, e)


def load_or_build(info: ModelInfo, *, precision: str | None = None, batch: int | Sequence[int] | None = None,
                  workspace_mb: int | None = None, cache_dir: str | os.PathLike[str] | None = None,
                  device: str | None = None) -> tuple[CacheKey, CachedEngine]:
    """The cached engine for the model, building (and caching) it first when needed."""
    precision = precision or default_precision()
    if precision not in PRECISIONS:
        raise InputError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
    cache = EngineCache(cache_dir)
    index = device_index(device)
    key = cache_key(info, precision, profile_for(info, batch), index)
    timing = _timing_cache_path(cache, key)

    def build() -> bytes:
        import cupy

        with cupy.cuda.Device(index):  # TensorRT builds for the current device: the key names this one
            return build_engine(info, key, workspace_mb=workspace_mb, timing_cache=timing)

    entry = cache.get_or_build(key, build)
    if entry.built:
        lo, opt, hi = (shape[0] for shape in key.profile[0][1])
        log.info("built TensorRT engine %s (%s, batch %d:%d:%d)", entry.path, precision, lo, opt, hi)
    return key, entry


class _Shared:
    """One deserialised engine, shared by every backend of the same cache entry in this process."""

    def __init__(self, runtime: Any, engine: Any) -> None:
        self.runtime = runtime  # must outlive the engine
        self.engine = engine


_SHARED: weakref.WeakValueDictionary[str, _Shared] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def _deserialize(data: bytes) -> _Shared | None:
    trt = _trt()
    runtime = trt.Runtime(_logger())
    engine = runtime.deserialize_cuda_engine(data)
    return None if engine is None else _Shared(runtime, engine)


def open_engine(info: ModelInfo, device: str | None = None, **options: Any) -> _Shared:
    """Loads (building if needed) and deserialises the engine; a cached engine TensorRT refuses
    (another TensorRT build, a damaged plan) is discarded and rebuilt once."""
    key, entry = load_or_build(info, device=device, **options)
    slot = f"{key.digest}@{device_index(device)}"  # identical GPUs share a key, not an engine
    with _SHARED_LOCK:
        shared = _SHARED.get(slot)
        if shared is not None:
            return shared
        shared = _deserialize(entry.data)
        if shared is None and not entry.built:
            log.warning("TensorRT cannot load cached engine %s; rebuilding it", entry.path)
            EngineCache(options.get("cache_dir")).discard(key)
            key, entry = load_or_build(info, device=device, **options)
            shared = _deserialize(entry.data)
        if shared is None:
            raise EngineError(f"TensorRT cannot deserialise the engine it just built ({entry.path})")
        _SHARED[slot] = shared
        return shared


class TensorRTEngine(DeviceEngine):
    """A deserialised engine with one execution context per batch size, created on first use."""

    graph_capturable = True

    def __init__(self, shared: _Shared, device: int = 0) -> None:
        import cupy

        trt = _trt()
        self._shared = shared
        self._device = cupy.cuda.Device(device)  # contexts are created on the engine's GPU
        engine = shared.engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"TensorRT engine: expected one input and one output, got {inputs} and {outputs}")
        self.input_name, self.output_name = inputs[0], outputs[0]
        self.input_dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(self.input_name)))
        self.output_dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(self.output_name)))
        for name, dt in ((self.input_name, self.input_dtype), (self.output_name, self.output_dtype)):
            if dt not in (np.float32, np.float16):
                raise ModelError(f"TensorRT engine: tensor {name!r} is {dt}; fastdet handles float32 and float16")
        shape = tuple(engine.get_tensor_shape(self.input_name))
        if any(d < 0 for d in shape[1:]):
            # A dynamic-size export: its profile fixes height and width (min = opt = max there);
            # a context's input shape needs them, not -1.
            shape = (shape[0], *tuple(engine.get_tensor_profile_shape(self.input_name, 0)[1])[1:])
        self._input_shape = shape
        self._contexts: dict[int, Any] = {}
        self._contexts_lock = threading.Lock()

    def _context(self, batch: int) -> Any:
        """The execution context of ``batch``, owned by this engine and shaped once.

        CUDA graphs captured by the pipeline bake in the context they ran: it must live as long
        as the engine (not as long as a thread) and never be re-shaped, or another batch's
        graph would replay against the wrong shapes. Hence one context per batch size."""
        ctx = self._contexts.get(batch)
        if ctx is not None:
            return ctx
        with self._contexts_lock, self._device:
            ctx = self._contexts.get(batch)
            if ctx is None:
                ctx = self._shared.engine.create_execution_context()
                if ctx is None:
                    raise EngineError("TensorRT could not create an execution context (out of GPU memory?)")
                shape = (batch, *self._input_shape[1:])
                if not ctx.set_input_shape(self.input_name, shape):
                    raise InputError(f"batch {batch} is outside the engine's optimisation profile; "
                                     "rebuild it with a larger batch range (fastdet build MODEL --batch MIN:OPT:MAX)")
                self._contexts[batch] = ctx
        return ctx

    def input_spec(self, batch: int) -> TensorSpec:
        return TensorSpec(self.input_name, self.input_dtype, (batch, *self._input_shape[1:]))

    def output_spec(self, batch: int) -> TensorSpec:
        shape = tuple(self._context(batch).get_tensor_shape(self.output_name))
        return TensorSpec(self.output_name, self.output_dtype, shape)

    def enqueue(self, input_ptr: int, output_ptr: int, stream_handle: int, batch: int) -> None:
        ctx = self._context(batch)
        ctx.set_tensor_address(self.input_name, input_ptr)
        ctx.set_tensor_address(self.output_name, output_ptr)
        if not ctx.execute_async_v3(stream_handle):
            raise EngineError("TensorRT execute_async_v3 failed (see the TensorRT errors logged above)")


class TensorRT(SerialBackend):
    """TensorRT through the Backend ABC: host buffers copied to and from device buffers on the
    backend's own stream, one synchronisation per run.

    precision: "fp16" (default where supported) or "fp32". batch: optimisation profile, None,
    an int or (min, opt, max). workspace_mb: builder workspace limit. cache_dir: engine cache
    folder (default $FASTDET_CACHE, else the user cache folder). device: "cuda" or "cuda:N".
    """

    name = "tensorrt"
    Options = TensorRTOptions

    def __init__(self, path: Path, *, device: str | None = None, options: TensorRTOptions | None = None,
                 **model_kw: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        import cupy

        o = options or TensorRTOptions()
        precision, batch, workspace_mb, cache_dir = o.precision, o.batch, o.workspace_mb, o.cache_dir

        self.info = describe_model(path, **model_kw)
        self._profile = profile_for(self.info, batch)
        self._device = cupy.cuda.Device(device_index(device))
        with self._device:
            shared = open_engine(self.info, device=device, precision=precision, batch=batch,
                                 workspace_mb=workspace_mb, cache_dir=cache_dir)
            self.engine = TensorRTEngine(shared, device_index(device))
            self._stream = cupy.cuda.Stream(non_blocking=True)
        self._buffers: dict[int, tuple[Any, ...]] = {}

    @property
    def max_batch(self) -> int | None:
        return self._profile[2]

    @property
    def min_batch(self) -> int:
        return self._profile[0]

    def _buffers_for(self, batch: int) -> tuple[Any, ...]:
        bufs = self._buffers.get(batch)
        if bufs is None:
            import cupy
            import cupyx

            h, w = self.info.input_hw
            with self._device:
                out = self.engine.output_spec(batch)
                host_in = cupyx.empty_pinned((batch, 3, h, w), np.float32)
                host_in[...] = 0
                dev_in = cupy.empty((batch, 3, h, w), self.engine.input_dtype)
                dev_in32 = dev_in if dev_in.dtype == np.float32 else cupy.empty(dev_in.shape, np.float32)
                dev_out = cupy.empty(out.shape, out.dtype)
                dev_out32 = dev_out if out.dtype == np.float32 else cupy.empty(out.shape, np.float32)
                host_out = cupyx.empty_pinned(out.shape, np.float32)
            bufs = self._buffers[batch] = (host_in, dev_in32, dev_in, dev_out, dev_out32, host_out)
        return bufs

    def input_buffer(self, batch: int) -> np.ndarray:
        return self._buffers_for(batch)[0]

    def run(self, batch: int) -> np.ndarray:
        import cupy

        host_in, dev_in32, dev_in, dev_out, dev_out32, host_out = self._buffers_for(batch)
        s = self._stream
        with self._device, s:
            dev_in32.set(host_in, stream=s)
            if dev_in is not dev_in32:
                cupy.copyto(dev_in, dev_in32, casting="same_kind")
            self.engine.enqueue(dev_in.data.ptr, dev_out.data.ptr, s.ptr, batch)
            if dev_out32 is not dev_out:
                cupy.copyto(dev_out32, dev_out)
            dev_out32.get(stream=s, out=host_out, blocking=True)  # the run's one synchronisation
        return host_out
