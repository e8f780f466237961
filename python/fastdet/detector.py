"""Detector: frames in, boxes in original-image pixels out."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence, overload

from . import _core, backends, recipes
from .backends.slots import Lease
from .call_options import ClassFilter, make_options, override, resolve_classes, split
from .frames import Frame, FrameLike, as_frame
from .gpu_pipeline import GpuPath, is_device_array
from .model import ModelInfo, check_model_path
from .results import Detections

if TYPE_CHECKING:
    from .stream import ErrorHandler, Stream

log = logging.getLogger("fastdet")


class Prepared(NamedTuple):
    """A chunk letterboxed into a lease, waiting for inference."""

    lease: Lease
    frames: list[Frame]
    geometries: list[_core.Geometry]


class Detector:
    """A detector for one ONNX model.

    model: path to an ONNX detector (YOLOv5/v7, YOLOv8/11/12, YOLOX, end-to-end YOLOv10/YOLO26),
    or, for OpenVINO, an IR (.xml + .bin) or an ultralytics ``*_openvino_model/`` folder; None
    takes $FASTDET_MODEL, else the embedded YOLOX-Nano (COCO-80).
    backend: "auto" (TensorRT -> ONNX Runtime CUDA -> PyTorch on a GPU -> OpenVINO CPU -> ONNX
    Runtime CPU), or one of those by name; further keyword options go to that backend
    (``fastdet.backends.options``: e.g. ``threads=`` for the CPU backends, ``hint=``,
    ``precision=`` and ``cache_dir=`` for OpenVINO, ``precision=`` for TensorRT and PyTorch) and an
    option it does not take is an ``InputError``.
    conf: keep boxes scoring strictly above this. iou: NMS IoU threshold. max_det: boxes per image.
    classes: keep only these class ids or names ("person" alone is a filter of one).
    agnostic: class-agnostic NMS. conf, iou, max_det, classes and agnostic are defaults that a
    ``detect()`` call may override.
    max_candidates: top-scoring boxes entering NMS (default 30000); more are dropped and counted
    in ``Detections.dropped``.
    recipe / head / names: override the preprocessing recipe, head format or class names that
    were read from the model.
    device: None (any), "cpu", or "cuda[:N]". With a GPU backend that drives a device engine
    (TensorRT, PyTorch) the whole path runs on the GPU: CUDA letterbox, engine, CUDA decode + NMS,
    with a CUDA graph per shape unless use_graphs=False; frames may then also be CuPy/PyTorch CUDA
    arrays.

    Threads: one Detector may be shared by any number of threads. On the CPU backends the
    inference session (or compiled model) is shared and each call leases its own reused buffers
    from a small pool, so calls run at the same time with no lock around them; that beats one
    Detector per thread, which would load the model once per thread and oversubscribe the cores
    with one set of inference threads each (see docs/concurrency.md). GPU backends take turns on
    their stream. ``threads=`` sets the inference threads of the one shared session.
    ``options``, ``classes`` and ``info`` are read-only: per-call overrides change thresholds for
    one call, a new Detector changes them for good.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        backend: str = "auto",
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 300,
        classes: ClassFilter | None = None,
        agnostic: bool = False,
        max_candidates: int = 30000,
        recipe: _core.Recipe | str | None = None,
        head: str | None = None,
        names: dict[int, str] | None = None,
        device: str | None = None,
        use_graphs: bool = True,
        **backend_options: Any,
    ) -> None:
        path = check_model_path(model)
        self._options = make_options(conf, iou, max_det, max_candidates, agnostic)
        self._backend = backends.create(backend, path, device=device, head=head, recipe=recipe, names=names,
                                        **backend_options)
        self._info: ModelInfo = self._backend.info
        self._classes = self._resolve_classes(classes)
        # GPU backends with a device engine run the whole frame -> boxes path on the GPU.
        self._gpu: GpuPath | None = None
        if GpuPath.usable(self._backend, device):
            self._gpu = GpuPath(self._backend, self.info, self.options, self.classes, device, use_graphs)
        self._warned_cap = False
        self._warned_invalid = False
        # The CUDA pipeline has one stream, graphs and options per call: its callers take turns.
        self._gpu_lock = threading.Lock()
        self._last = threading.local()

    def _resolve_classes(self, classes: ClassFilter | None) -> list[int] | None:
        return resolve_classes(classes, self.info.names, self.info.head.num_classes)

    @property
    def options(self) -> _core.DecodeOptions:
        """The default thresholds and caps (read-only: the GPU pipeline is built with them)."""
        return self._options

    @property
    def classes(self) -> list[int] | None:
        """The default class filter (ids), or None for every class (read-only)."""
        return None if self._classes is None else list(self._classes)

    @property
    def timings(self) -> dict[str, int]:
        """Nanoseconds per stage of this thread's last ``detect()`` call (CPU path: preprocess,
        inference, postprocess; GPU pipeline: pipeline, the whole call)."""
        return getattr(self._last, "timings", {})

    @property
    def info(self) -> ModelInfo:
        """What was read from the model: input, output, head, recipe, names (read-only)."""
        return self._info

    @property
    def backend(self) -> str:
        """Name of the backend in use: "openvino-cpu", "onnxruntime-cpu", "onnxruntime-cuda", "tensorrt"
        or "torch"."""
        return self._backend.name

    @property
    def names(self) -> dict[int, str]:
        return self.info.names

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (height, width)."""
        return self.info.input_hw

    @overload
    def detect(self, frames: FrameLike, *, conf: float | None = None, iou: float | None = None,
               max_det: int | None = None, classes: ClassFilter | None = None,
               agnostic: bool | None = None) -> Detections: ...

    @overload
    def detect(self, frames: Sequence[FrameLike], *, conf: float | None = None, iou: float | None = None,
               max_det: int | None = None, classes: ClassFilter | None = None,
               agnostic: bool | None = None) -> list[Detections]: ...

    def detect(self, frames: FrameLike | Sequence[FrameLike], *, conf: float | None = None,
               iou: float | None = None, max_det: int | None = None, classes: ClassFilter | None = None,
               agnostic: bool | None = None) -> Detections | list[Detections]:
        """Detects objects in one frame or a list of frames.

        frames: uint8[H, W, 3] BGR (OpenCV's convention) or [H, W, 4] BGRA, an image path,
        or a list of those (one inference call per batch when the model's batch axis is dynamic).
        conf, iou, max_det, classes, agnostic: for this call only, instead of the Detector's
        (None keeps the Detector's).
        Returns Detections, or a list of them for a list input.
        """
        options = override(self.options, conf=conf, iou=iou, max_det=max_det, agnostic=agnostic)
        ids = self._classes if classes is None else self._resolve_classes(classes)
        if isinstance(frames, (list, tuple)):
            if self._gpu is not None and frames and is_device_array(frames[0]):
                return self._detect_gpu(list(frames), False, options, ids)
            return self._detect_frames([as_frame(f) for f in frames], options, ids)
        if self._gpu is not None and is_device_array(frames):
            return self._detect_gpu([frames], False, options, ids)[0]
        return self._detect_frames([as_frame(frames)], options, ids)[0]

    __call__ = detect

    def stream(self, source: Any, *, live: bool | None = None, rgb: bool = False, in_flight: int = 3,
               queue_size: int = 8, on_error: ErrorHandler | None = None, open_timeout_s: float = 10.0,
               reconnect_s: float = 30.0, conf: float | None = None, iou: float | None = None,
               max_det: int | None = None, classes: ClassFilter | None = None,
               agnostic: bool | None = None) -> Stream:
        """Detects in every frame of ``source``, pipelined; iterate for ``StreamItem``s that
        unpack as ``(index, timestamp_ms, frame, detections)``, in order.

        source: a video file, an image file, folder or glob, a camera index (``0``), a stream URL
        (rtsp://, http://, ...), a numpy uint8 array [H, W, 3] or [B, H, W, 3] (BGR unless
        ``rgb``), a PIL image, or a list / iterable of frames or paths (see
        ``fastdet.io.open_source``). A missing or undecodable file raises ``InputError`` here.
        live: None decides by kind (cameras and URLs are live); live sources keep only the newest
        frame and count the others in ``Stream.dropped``; others give every frame.
        in_flight: frames in the pipeline at once (read, letterbox, inference, decode overlap;
        1 runs one frame at a time). queue_size: frames read ahead of the detector (non-live).
        on_error: None raises a bad item's error at its place (after every earlier result);
        ``on_error(error, source, frame)`` reports it instead and goes on.
        open_timeout_s / reconnect_s: how long a live source may take to open, and to come back
        after it drops (then ``SourceError``).
        conf, iou, max_det, classes, agnostic: as in ``detect()``, for the whole stream.
        """
        from .io import open_source
        from .stream import Stream

        options = override(self.options, conf=conf, iou=iou, max_det=max_det, agnostic=agnostic)
        ids = self._classes if classes is None else self._resolve_classes(classes)
        opened = open_source(source, live=live, rgb=rgb, open_timeout_s=open_timeout_s, reconnect_s=reconnect_s)
        return Stream(self, opened, options, ids, in_flight=in_flight, queue_size=queue_size, on_error=on_error)

    def _detect_gpu(self, frames: list[Any], rgb: bool, options: _core.DecodeOptions,
                    classes: list[int] | None) -> list[Detections]:
        """Frames (host numpy or device arrays) through the CUDA pipeline, in chunks of max_batch."""
        assert self._gpu is not None
        limit = self._backend.max_batch or len(frames) or 1
        t0 = time.perf_counter_ns()
        results: list[Detections] = []
        with self._gpu_lock:
            self._gpu.use_options(options, classes)
            for start in range(0, len(frames), limit):
                chunk = frames[start : start + limit]
                for xyxy, scores, ids, stats, g in self._gpu.run(chunk, rgb):
                    self._note_cap(stats, options)
                    results.append(Detections(xyxy, scores, ids, self.info.names, (g.src_h, g.src_w),
                                              stats.candidates, stats.dropped, stats.invalid))
        self._last.timings = {"pipeline": time.perf_counter_ns() - t0}
        return results

    def _note_cap(self, stats: _core.DecodeStats, options: _core.DecodeOptions) -> None:
        if stats.invalid and not self._warned_invalid:
            self._warned_invalid = True
            log.warning(
                "%s produced %d malformed rows above the threshold (NaN/inf or inverted boxes, class ids out of "
                "range); they were dropped. Further occurrences are counted in Detections.invalid",
                self.info.path.name, stats.invalid,
            )
        if stats.dropped and not self._warned_cap:
            self._warned_cap = True
            log.warning(
                "%d of %d candidates exceeded max_candidates=%d and were not considered by NMS"
                " (raise max_candidates or conf); further occurrences are counted in Detections.dropped",
                stats.dropped, stats.candidates, options.max_candidates,
            )

    def _detect_frames(self, frames: list[Frame], options: _core.DecodeOptions,
                       classes: list[int] | None) -> list[Detections]:
        if self._gpu is not None:
            if len({f.rgb for f in frames}) > 1:
                return [d for f in frames for d in self._detect_gpu([f.pixels], f.rgb, options, classes)]
            return self._detect_gpu([f.pixels for f in frames], frames[0].rgb if frames else False, options, classes)
        limit = self._backend.max_batch or len(frames) or 1
        pre = infer = post = 0
        results: list[Detections] = []
        for start in range(0, len(frames), limit):
            t0 = time.perf_counter_ns()
            prepared = self._prepare(frames[start : start + limit])
            t1 = time.perf_counter_ns()
            try:
                raw = prepared.lease.run()
                t2 = time.perf_counter_ns()
                results += self._finish(prepared, raw, options, classes)
            finally:
                prepared.lease.release()
            t3 = time.perf_counter_ns()
            pre += t1 - t0
            infer += t2 - t1
            post += t3 - t2
        self._last.timings = {"preprocess": pre, "inference": infer, "postprocess": post}
        return results

    # The three stages of a CPU call, separable so that a pipeline can run them for different
    # frames at once (``fastdet.stream``): prepare (lease + letterbox), lease.run(), finish
    # (decode + NMS). The caller releases the lease after finish, or on any error.

    def _prepare(self, chunk: list[Frame]) -> Prepared:
        """Leases buffers for ``chunk`` (at most max_batch frames) and letterboxes into them."""
        # A fixed-batch model runs its whole batch, a TensorRT profile at least its minimum (spare
        # slots hold stale input, not decoded); a dynamic one runs exactly the frames given.
        lease = self._backend.lease(max(self._backend.static_batch or len(chunk), self._backend.min_batch))
        try:
            geoms = [_core.letterbox_into(f.pixels, lease.input[i], self.info.recipe, f.rgb)
                     for i, f in enumerate(chunk)]
        except BaseException:
            lease.release()
            raise
        return Prepared(lease, chunk, geoms)

    def _finish(self, prepared: Prepared, raw: Any, options: _core.DecodeOptions,
                classes: list[int] | None) -> list[Detections]:
        """Decode + NMS of a prepared chunk's raw output (the lease is still held)."""
        chunk = prepared.frames
        decoded = _core.decode(raw[: len(chunk)], self.info.head, prepared.geometries, options, classes)
        results = []
        for f, (xyxy, scores, ids, stats) in zip(chunk, decoded):
            self._note_cap(stats, options)
            results.append(Detections(xyxy, scores, ids, self.info.names, f.shape, stats.candidates, stats.dropped,
                                      stats.invalid))
        return results

    @property
    def pipelined(self) -> bool:
        """True when calls run as separable CPU stages (every backend but the CUDA pipeline)."""
        return self._gpu is None

    def __repr__(self) -> str:
        h, w = self.input_size
        return (f"Detector({self.info.path.name!r}, backend={self.backend!r}, format={self.info.format!r}, "
                f"input={w}x{h}, classes={len(self.names)})")


#: Default Detectors ``fastdet.detect`` keeps, least recently used first out.
CACHE_SIZE = 8
#: key -> the Detector, as a Future while the first caller of that key loads it (others wait
#: for that one key only; callers of other keys go on).
_DEFAULTS: OrderedDict[tuple[Any, ...], Future[Detector]] = OrderedDict()
_DEFAULTS_LOCK = threading.Lock()


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, _core.Recipe):  # every field, exactly (its repr rounds)
        return ("Recipe",) + tuple(sorted(recipes.fields(value).items()))
    return value


def detect(frame: FrameLike | Sequence[FrameLike], model: str | os.PathLike[str] | None = None,
           **options: Any) -> Detections | list[Detections]:
    """Detects with a cached default Detector per (model, Detector options).

    model: an ONNX file, else the FASTDET_MODEL environment variable, else the embedded YOLOX-Nano.
    options: as Detector's; conf, iou, max_det, classes and agnostic apply to this call and reuse
    the cached Detector. The cache keeps the ``CACHE_SIZE`` (8) most recently used Detectors; the
    Detector runs outside the cache's lock, so threads calling this run at the same time.
    """
    path = check_model_path(model)
    detector_options, per_call = split(options)
    key = (str(path.resolve()), path.stat().st_mtime_ns, _freeze(detector_options))
    return _cached_detector(key, path, detector_options).detect(frame, **per_call)


def _cached_detector(key: tuple[Any, ...], path: Path, options: dict[str, Any]) -> Detector:
    """The cached Detector for ``key``, loaded by the first caller outside the cache's lock; a
    caller that finds it loading waits for it, and tries itself if that load failed."""
    while True:
        with _DEFAULTS_LOCK:
            entry = _DEFAULTS.get(key)
            owner = entry is None
            if owner:
                entry = _DEFAULTS[key] = Future()
                while len(_DEFAULTS) > CACHE_SIZE:
                    _DEFAULTS.popitem(last=False)
            else:
                _DEFAULTS.move_to_end(key)
        assert entry is not None
        if not owner:
            if entry.exception() is None:  # waits (an interruption of this wait is raised here)
                return entry.result()
            continue  # the loader's own call failed; this one tries for itself
        try:
            det = Detector(path, **options)
        except BaseException as e:
            with _DEFAULTS_LOCK:
                if _DEFAULTS.get(key) is entry:
                    del _DEFAULTS[key]
            entry.set_exception(e)
            raise
        entry.set_result(det)
        return det
